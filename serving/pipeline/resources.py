"""What a decision needs — store, rule book, model — held, (re)loaded and checked.

Any part may be missing; then the pipeline fails closed. A missing part is reloaded at most
every :data:`RETRY_AFTER_S` seconds, so a service started before its model was promoted
becomes ready without a restart.
"""

from __future__ import annotations

import logging
import threading
import time
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

    def model_ref(self) -> ModelRef:
        m = self.model
        if m is None:
            return ModelRef()
        return ModelRef(name=m.name, version=str(m.version), alias=m.alias)

    @property
    def rules_version(self) -> str | None:
        return None if self.rulebook is None else self.rulebook.version


def load_resources(
    db_url: str | None = None,
    tracking_uri: str | None = None,
    model_name: str = "contact-risk",
    alias: str = "champion",
    rules_dir: str | None = None,
    create_store: bool = True,
) -> Resources:
    """Open the store, compile the rule packs and load ``models:/model_name@alias``.

    Failures are recorded, not raised: the caller is a service that must answer (fail
    closed) and report itself not ready until every part is there. ``create_store=False``
    (the service): a store that does not exist is such a failure, never created empty.
    """

    def open_store() -> Any:
        from serving.store import Store

        return Store.open(db_url, create=create_store)

    def open_rulebook() -> Any:
        from pathlib import Path

        from serving.rules import load_rulebook

        return load_rulebook(Path(rules_dir) if rules_dir else None)

    def open_model() -> Any:
        from training import tracking

        tracking.configure(tracking_uri)
        return tracking.load_model(model_name, alias)

    resources = Resources(
        loaders={"store": open_store, "rulebook": open_rulebook, "model": open_model}
    )
    resources.ensure()
    return resources
