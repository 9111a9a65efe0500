"""What a decision needs — store, rule book, model — held, (re)loaded and checked.

Any part may be missing; then the pipeline fails closed. A missing part is reloaded at most
every :data:`RETRY_AFTER_S` seconds, so a service started before its model was promoted
becomes ready without a restart.

The service follows the champion (:class:`ChampionFollower`): every ``poll_s`` seconds a
background thread asks the registry which version the alias points at; a new version is
loaded and validated there (its feature set must match the code's —
:class:`training.model.BundleMismatch` — and a smoke prediction must give probabilities),
then swapped in with one assignment. Requests read the model once, so each decision is made
and labelled by one version; a failed load keeps the current model and logs why.
"""

from __future__ import annotations

import datetime as dt
import gc
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from serving.domain.contract import ModelRef
from serving.domain.reasons import mask_digits
from serving.pipeline.protocols import DecisionModel, DecisionStore, RuleBookLike

log = logging.getLogger("contactgate.pipeline")

#: How long a failed resource load is remembered before the next request tries again.
RETRY_AFTER_S = 5.0


@dataclass
class Resources:
    """The three things a decision needs; any of them may be missing (then: fail closed).

    ``loaders`` (name → zero-argument callable) reload a missing part at most every
    :data:`RETRY_AFTER_S` seconds, so a service started before the model was promoted
    becomes ready without a restart.
    """

    store: DecisionStore | None = None
    rulebook: RuleBookLike | None = None
    model: DecisionModel | None = None
    loaders: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    follower: Any = None  # the ChampionFollower, when the service follows the champion
    tracking_uri: str | None = None  # where the model came from (for messages)
    _tried_at: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def ensure(self) -> None:
        """Load what is missing (rate-limited); never raises."""
        for name, loader in self.loaders.items():
            if getattr(self, name) is not None:
                continue
            now = time.monotonic()
            if now - self._tried_at.get(name, -1e9) < RETRY_AFTER_S:
                continue
            with self._lock:
                if getattr(self, name) is not None:
                    continue
                self._tried_at[name] = now
                try:
                    setattr(self, name, loader())
                    self.errors.pop(name, None)
                except Exception as exc:  # any failure to load means: not ready, fail closed
                    self.errors[name] = f"{exc.__class__.__name__}: {mask_digits(str(exc))}"[:300]
                    log.warning("could not load %s: %s", name, self.errors[name])

    def problems(self) -> list[str]:
        """What keeps the pipeline from deciding (empty when ready). Probes the store with a
        write: a store that answers reads but cannot take a write is not ready."""
        missing = [n for n in ("store", "rulebook", "model") if getattr(self, n) is None]
        if self.store is not None:
            try:
                self.store.probe()
            except Exception as exc:
                missing.append(f"store ({exc.__class__.__name__})")
        return missing

    def model_ref(self, model: DecisionModel | None = None) -> ModelRef:
        """The reference of ``model`` (default: the one in use now)."""
        m = self.model if model is None else model
        if m is None:
            return ModelRef()
        return ModelRef(name=m.name, version=str(m.version), alias=m.alias)

    @property
    def rules_version(self) -> str | None:
        return None if self.rulebook is None else self.rulebook.version

    def status(self) -> dict[str, Any]:
        """What is in use, for ``/readyz`` and start-up lines: model, rules, problems."""
        problems = self.problems()
        return {
            "ready": not problems,
            "model": self.model_ref().model_dump(),
            "rules_version": self.rules_version,
            "problems": problems,
            "errors": dict(self.errors),
        }


#: Allocations between two collections of the youngest generation (see :func:`settle_heap`).
YOUNG_COLLECTION_EVERY = 10_000


def settle_heap() -> None:
    """Keep what is loaded so far (libraries, model, rule book: ~500,000 objects that live
    as long as the process) out of the garbage collector's full passes. Without it each full
    pass walks them all (~300 ms of CPU), and a 1,000-contact screen or a batch chunk, whose
    objects live long enough to reach the oldest generation, sets one off every few
    requests: ~30 % of a screen's CPU, measured (docs/benchmarks.md). Nothing is lost: a
    frozen object still goes when its last reference does; only reference cycles among
    frozen objects would wait for :func:`gc.unfreeze`.

    The youngest generation is collected every :data:`YOUNG_COLLECTION_EVERY` allocations
    instead of CPython's 700: a screen allocates hundreds of thousands of short-lived
    objects, and at 700 it paid ~60 collections a request for what 6 do (at most 10,000
    objects of garbage wait a little longer)."""
    gc.collect()
    gc.freeze()
    young, middle, oldest = gc.get_threshold()
    gc.set_threshold(max(YOUNG_COLLECTION_EVERY, young), middle, oldest)


class ChunkedCollection:
    """For work done in bounded chunks (the batch): the collector's automatic full passes
    are off until :meth:`close`, and :meth:`after_chunk` runs one when a chunk's objects are
    already gone (a few milliseconds then, against ~80 ms for each of the half-dozen passes
    a 20,000-row chunk set off while alive). The young generations are collected as usual,
    so memory stays bounded by a chunk. :meth:`close` restores thresholds and heap."""

    def __init__(self) -> None:
        self._froze = not gc.get_freeze_count()  # a service froze its own heap already
        self._previous = gc.get_threshold()
        settle_heap()
        # CPython's young thresholds here: a chunk's objects all survive it, and larger young
        # generations only make the middle one's passes walk more of them (measured)
        gc.set_threshold(self._previous[0], self._previous[1], 1 << 30)

    def after_chunk(self) -> None:
        gc.collect()

    def close(self) -> None:
        gc.set_threshold(*self._previous)
        if self._froze:
            gc.unfreeze()


#: The resources of the service running in this process (set by :func:`load_resources`
#: with ``serve=True``); ``/readyz`` reports what they hold.
_SERVING: list[Resources] = []


def serving_resources() -> Resources | None:
    """The resources the service in this process decides with (None before it started)."""
    return _SERVING[-1] if _SERVING else None


def smoke_check(model: DecisionModel) -> None:
    """Score one made-up contact (libphonenumber's example range, no history) through the
    serving path; raises unless both probabilities are finite and in [0, 1]."""
    from features.phone import normalize
    from serving.domain.state import Contact, NumberState
    from serving.pipeline.scoring import model_scores

    record = normalize("+12015550123")
    at = dt.datetime(2026, 1, 5, 15, tzinfo=dt.UTC)
    scores = model_scores([Contact(record, "call", at)], {record.e164: NumberState()}, model.model)
    for name, values in (("p_complaint", scores.p_complaint), ("p_opt_out", scores.p_opt_out)):
        value = float(values[0])
        if not (math.isfinite(value) and 0.0 <= value <= 1.0):
            raise ValueError(f"smoke prediction: {name} is {value}")


@dataclass
class ChampionFollower:
    """Swaps in a newly promoted model without a restart (see the module docstring).

    ``current_version`` asks the registry which version the alias points at now (None
    when none); ``load`` loads it. One daemon thread; :meth:`check` is one round, callable
    directly.
    """

    resources: Resources
    current_version: Callable[[], str | None]
    load: Callable[[], DecisionModel]
    poll_s: float = 60.0
    validate: Callable[[DecisionModel], None] = smoke_check
    failed_version: str | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def check(self) -> bool:
        """One round: load, validate and swap in a new champion. True when swapped."""
        res = self.resources
        try:
            wanted = self.current_version()
        except Exception as exc:  # registry unreachable: keep what we have
            log.warning("model registry check failed: %s", mask_digits(str(exc))[:300])
            return False
        in_use = None if res.model is None else str(res.model.version)
        if wanted is None or wanted == in_use or wanted == self.failed_version:
            return False
        began = time.monotonic()
        try:
            model = self.load()
            if str(model.version) != wanted:  # the alias moved again while loading
                wanted = str(model.version)
                if wanted == in_use:
                    return False
            self.validate(model)
        except Exception as exc:  # fail safe: the current model keeps deciding
            self.failed_version = wanted
            why = f"{exc.__class__.__name__}: {mask_digits(str(exc))}"[:500]
            log.error(
                "champion version %s NOT loaded, version %s stays in use: %s", wanted, in_use, why
            )
            res.errors["model_update"] = f"version {wanted}: {why}"
            return False
        with res._lock:
            res.model = model  # one assignment: a request sees the old model or the new one
        res.errors.pop("model_update", None)
        res.errors.pop("model", None)
        self.failed_version = None
        if gc.get_freeze_count():  # the process froze its heap (settle_heap): the old model
            gc.unfreeze()  # may hold reference cycles, and the new one lives as long
            settle_heap()
        log.warning(
            "champion changed: %s version %s → %s (loaded and checked in %.1f s)",
            model.name, in_use, wanted, time.monotonic() - began,
        )  # fmt: skip
        return True

    def start(self) -> None:
        if self._thread is not None or self.poll_s <= 0:
            return
        self._thread = threading.Thread(target=self._run, name="contactgate-champion", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.poll_s):
            if self.resources.model is None:
                continue  # Resources.ensure loads the first model
            try:
                self.check()
            except Exception:  # never let the thread die
                log.exception("champion check failed")


def load_resources(
    db_url: str | None = None,
    tracking_uri: str | None = None,
    model_name: str = "contact-risk",
    alias: str = "champion",
    rules_dir: str | None = None,
    create_store: bool = True,
    poll_s: float = 0.0,
    serve: bool = False,
) -> Resources:
    """Open the store, compile the rule packs and load ``models:/model_name@alias``.

    Failures are recorded, not raised: the caller is a service that must answer (fail
    closed) and report itself not ready until every part is there. ``create_store=False``
    (the service): a store that does not exist is such a failure, never created empty.
    ``poll_s`` > 0 starts a :class:`ChampionFollower` checking the alias every ``poll_s``
    seconds. ``serve`` marks them as the ones this process's service decides with
    (:func:`serving_resources`).
    """

    from training.tracking import default_tracking_uri

    def open_store() -> Any:
        from serving.store import Store

        return Store.open(db_url, create=create_store)

    def open_rulebook() -> Any:
        from pathlib import Path

        from serving.rules import load_rulebook

        return load_rulebook(Path(rules_dir) if rules_dir else None)

    uri = tracking_uri or default_tracking_uri()

    def open_model() -> Any:
        from training import tracking

        # MLflow resolves ``models:/`` through its process-wide registry URI: a service
        # process has only this one. The periodic check below reads through a client bound
        # to the URI and changes nothing process-wide.
        tracking.configure(uri)
        return tracking.load_model(model_name, alias)

    resources = Resources(
        loaders={"store": open_store, "rulebook": open_rulebook, "model": open_model},
        tracking_uri=uri,
    )
    resources.ensure()
    if serve:
        for previous in _SERVING:  # a service restarted in this process: one follower
            if previous.follower is not None:
                previous.follower.stop()
        _SERVING[:] = [resources]
    if poll_s > 0:

        def champion_version() -> str | None:
            from training import tracking

            return tracking.alias_version(model_name, alias, uri=uri)

        resources.follower = ChampionFollower(resources, champion_version, open_model, poll_s)
        resources.follower.start()
    return resources
