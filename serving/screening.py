"""The one decision pipeline, shared by the HTTP service and the batch command.

    numbers normalised → ONE batched store read (``load_states``) → the feature kernels on that
    history (``features.build.features_of_records``) → calibrated model → rules engine →
    :func:`serving.decision.decide` → audit rows.

Why one read: the store returns every event the rules need (``NumberState.history``) and
the feature kernels need a subset of the same events, so the features are computed from the
states' records instead of a second query (and without building frames: for one dial,
frame assembly cost ~15 ms against 0.2 ms of work). The instant of the read is the latest
``at`` of the request; the engine and the feature kernels both ignore events after each
contact's own ``at`` ("as of" semantics), so one read serves contacts at different instants.

Fail closed (DESIGN.md): when the store, the rule book or the model is unavailable — or
anything in the pipeline raises — every contact is withheld with ``SYSTEM_UNAVAILABLE``;
only an unparsable number keeps its own ``INVALID_NUMBER``. The dialer always gets an
answer, never a contact allowed on missing information.

Privacy: numbers reach logs and the audit log only as keyed hashes (the store hashes them);
exception messages are logged with digits masked.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from features.phone import NumberRecord, normalize
from serving.api_models import (
    AuthorizeRequest,
    AuthorizeResponse,
    ContactIn,
    Explanation,
    ModelRef,
    ReasonOut,
    ResultOut,
    ScreenResponse,
    Summary,
)
from serving.decision import Decided, Policy, Scored, decide
from serving.rules.engine import Reason, policy_reason
from serving.state import Contact, HistoryEvent, NumberState, WorldState
from serving.store import AttemptIdConflict

log = logging.getLogger("contactgate.screening")

#: Days of history read per number. The store keeps durable kinds (opt-outs, complaints,
#: purchases, contracts) for ever; 400 days covers every rule window (caps 30 d, refusal
#: cooling-off 60 d, EBR 18-24 months come from durable kinds) and the 90-day features.
DEFAULT_LOOKBACK_DAYS = 400
#: How long a failed resource load is remembered before the next request tries again.
RETRY_AFTER_S = 5.0
_DIGITS = re.compile(r"\d{4,}")
_UTC = dt.UTC


def mask_digits(text: str) -> str:
    """Mask digit runs (numbers may hide in exception messages) before logging."""
    return _DIGITS.sub(lambda m: "#" * len(m.group()), text)


def system_unavailable(what: str) -> Reason:
    """The fail-closed reason: ``what`` names the missing part, never internals or numbers."""
    return policy_reason(
        "SYSTEM_UNAVAILABLE", "fail-closed", f"{what} unavailable; withheld (fail closed)"
    )


_NOT_YET_SCORED = system_unavailable("decision pipeline")


def audit_reason(reason: ReasonOut) -> dict[str, Any]:
    """``reason.model_dump(mode="json")``, built directly (pydantic's dump was ~20 % of a
    1,000-contact screen's result building)."""
    until = reason.until
    return {
        "code": reason.code,
        "jurisdiction": reason.jurisdiction,
        "rule_id": reason.rule_id,
        "legal": reason.legal,
        "detail": reason.detail,
        "until": None if until is None else until.isoformat().replace("+00:00", "Z"),
    }


def invalid_number(record: NumberRecord) -> Reason:
    return policy_reason(
        "INVALID_NUMBER",
        "invalid-number",
        f"invalid number: {record.invalid_reason or 'not valid'}",
    )


# ----------------------------------------------------------------------------- resources
@dataclass
class Resources:
    """The three things a decision needs; any of them may be missing (then: fail closed).

    ``loaders`` (name → zero-argument callable) reload a missing part at most every
    :data:`RETRY_AFTER_S` seconds, so a service started before the model was promoted
    becomes ready without a restart.
    """

    store: Any = None  # serving.store.Store
    rulebook: Any = None  # serving.rules.engine.RuleBook
    model: Any = None  # training.tracking.LoadedModel
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
        """What keeps the pipeline from deciding (empty when ready). Pings the store."""
        missing = [n for n in ("store", "rulebook", "model") if getattr(self, n) is None]
        if self.store is not None:
            try:
                self.store.ping()
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
) -> Resources:
    """Open the store, compile the rule packs and load ``models:/model_name@alias``.

    Failures are recorded, not raised: the caller is a service that must answer (fail
    closed) and report itself not ready until every part is there.
    """

    def open_store() -> Any:
        from serving.store import Store

        return Store.open(db_url)

    def open_rulebook() -> Any:
        from pathlib import Path

        from serving.rules.engine import load_rulebook

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


# ----------------------------------------------------------------------------- history
def prior_attempts_before(state: NumberState, at: dt.datetime) -> NumberState:
    """Count attempts already recorded at or after ``at`` as made just before it.

    ``authorize`` records an attempt at its own instant; a second request for the same
    instant (or an earlier ``at`` that reached the lock later) must still see it, or two
    dials at one second would both pass a cap. Conservative: it only ever counts more.
    """
    if not any(e.kind == "contact" and e.ts >= at for e in state.history):
        return state
    just_before = at - dt.timedelta(microseconds=1)
    history = sorted(
        (
            e._replace(ts=just_before) if e.kind == "contact" and e.ts >= at else e
            for e in state.history
        ),
        key=lambda e: e.ts,
    )
    return replace(state, history=tuple(history))


#: How far after an authorize's ``at`` recorded events are still looked at: the longest cap
#: window of any pack (FR: 4 per rolling 30 days) plus a margin.
LATER_ATTEMPTS_WINDOW = dt.timedelta(days=31)
#: How long ``authorize`` waits for the number's lock (the store's writer slot on SQLite)
#: before it withholds ``SYSTEM_UNAVAILABLE``: a dialer needs an answer now, and the service
#: runs dials on its event loop, which must not sit in a 30 s busy wait.
AUTHORIZE_LOCK_WAIT_S = 2.0
#: Later events that only ever restrict (never exempt): they bind an earlier ``at`` too.
RESTRICTIVE_KINDS = frozenset({"contact", "opt_out", "complaint", "refusal"})


def with_later_restrictions(
    state: NumberState, later: Sequence[HistoryEvent], at: dt.datetime
) -> NumberState:
    """Add to ``state`` (as of ``at``) the attempts and restrictive events recorded after it.

    An ``authorize`` for an earlier instant than attempts already recorded (a dialer's
    clock, a queued request) must not slip under a cap that those attempts fill: any
    rolling window containing the new attempt may hold them. Exemptions recorded later
    (purchases, consent) are not taken back in time. :func:`prior_attempts_before` then
    counts the later attempts as made just before ``at`` — conservative, never fewer.
    """
    extra = tuple(e for e in later if e.ts > at and e.kind in RESTRICTIVE_KINDS)
    if not extra:
        return state
    history = tuple(sorted((*state.history, *extra), key=lambda e: e.ts))
    return replace(state, history=history)


def without_attempt(state: NumberState, ts: dt.datetime) -> NumberState:
    """``state`` less one recorded contact at ``ts`` (the attempt being replayed)."""
    history = list(state.history)
    for i, e in enumerate(history):
        if e.kind == "contact" and e.ts == ts:
            del history[i]
            break
    return replace(state, history=tuple(history))


# ----------------------------------------------------------------------------- scoring
@dataclass
class Outcome:
    """Results of one screening call, in request order, plus what produced them."""

    results: list[ResultOut]
    summary: Summary
    model: ModelRef
    rules_version: str | None
    audit_rows: list[dict[str, Any]]


def _explanations(
    model: Any, x: np.ndarray, rows: np.ndarray, k: int
) -> dict[int, list[Explanation]]:
    """Top-``k`` feature contributions per row, from LightGBM ``pred_contrib``.

    The contribution of a feature is its log-odds contribution summed over the two raw
    boosters (complaint and opt-out), i.e. how much it pushes the combined risk up or down
    before calibration. Only the rows asked for are explained: ``pred_contrib`` costs far
    more than a prediction (STYLE.md).
    """
    if k <= 0 or len(rows) == 0:
        return {}
    names = list(model.feature_names)
    total = None
    for target in model.models_:
        contrib = model.contributions(x[rows], target)[:, : len(names)]
        total = contrib if total is None else total + contrib
    assert total is not None
    values = x[rows]
    out: dict[int, list[Explanation]] = {}
    for i, row in enumerate(rows):
        top = np.argsort(-np.abs(total[i]), kind="stable")[:k]
        out[int(row)] = [
            Explanation(
                feature=names[j],
                value=None if np.isnan(values[i, j]) else float(values[i, j]),
                contribution=round(float(total[i, j]), 6),
            )
            for j in top
        ]
    return out


@dataclass(frozen=True)
class ModelScores:
    """Calibrated probabilities (and asked-for explanations) of a list of contacts."""

    p_complaint: np.ndarray
    p_opt_out: np.ndarray
    explanations: dict[int, list[Explanation]]


def model_scores(
    contacts: Sequence[Contact], states: dict[str, NumberState], model: Any, explain: int = 0
) -> ModelScores:
    """Online features (the training kernels on the states' history) → calibrated model."""
    from features.build import features_of_records

    columns = features_of_records(
        [c.number.e164 for c in contacts],
        contacts,
        {number: state.history for number, state in states.items()},
        {number: state.consents for number, state in states.items()},
    )
    x = np.empty((len(contacts), len(model.feature_names)), dtype=np.float64)
    for j, name in enumerate(model.feature_names):
        x[:, j] = columns[name]
    predicted = model.predict(x)
    explained = _explanations(model, x, np.arange(len(contacts)), explain)
    return ModelScores(predicted["complaint_7d"], predicted["opt_out_7d"], explained)


def score_contacts(
    contacts: Sequence[Contact],
    states: dict[str, NumberState],
    world: WorldState,
    rulebook: Any,
    model: Any,
    explain: int = 0,
    scores: ModelScores | None = None,
) -> tuple[list[Scored], list[tuple[str, ...]]]:
    """Rules and model for contacts with valid numbers (pure: no I/O).

    ``scores`` reuses probabilities computed before (``authorize`` scores outside its lock
    and runs only the rules inside). Returns one :class:`Scored` per contact and each
    contact's candidate time zones.
    """
    from serving.rules.engine import evaluate

    if not contacts:
        return [], []
    if scores is None:
        scores = model_scores(contacts, states, model, explain)
    evaluations = [evaluate(c, states[c.number.e164], world, rulebook) for c in contacts]
    p_complaint = np.asarray(scores.p_complaint, dtype=np.float64).tolist()
    p_opt_out = np.asarray(scores.p_opt_out, dtype=np.float64).tolist()
    scored = [
        Scored(
            reasons=list(ev.reasons),
            next_allowed_at=ev.next_allowed_at,
            p_complaint=p_complaint[i],
            p_opt_out=p_opt_out[i],
            explanations=scores.explanations.get(i, []),
        )
        for i, ev in enumerate(evaluations)
    ]
    return scored, [tuple(ev.time_zones) for ev in evaluations]


def _result(
    item: ContactIn | None,
    raw_number: str,
    record: NumberRecord,
    scored: Scored,
    decided: Decided,
    zones: tuple[str, ...],
) -> ResultOut:
    # Built without re-validation: every value comes from validated inputs, the engine and
    # the model (validation here cost ~30 % of a 1,000-contact request).
    return ResultOut.model_construct(
        ref=item.ref if item is not None else None,
        number=record.e164 if record.valid and record.e164 else raw_number,
        decision=decided.decision,
        reasons=[
            ReasonOut.model_construct(
                code=r.code,
                jurisdiction=r.jurisdiction,
                rule_id=r.rule_id,
                legal=r.legal,
                detail=r.detail,
                until=r.until,
            )  # fmt: skip
            for r in decided.reasons
        ],
        p_complaint=None if scored.p_complaint is None else round(scored.p_complaint, 6),
        p_opt_out=None if scored.p_opt_out is None else round(scored.p_opt_out, 6),
        risk=None if decided.risk is None else round(decided.risk, 6),
        rank=decided.rank,
        next_allowed_at=decided.next_allowed_at,
        region=record.region,
        subdivision=record.subdivision,
        time_zones=list(zones or record.time_zones),
        explanations=scored.explanations,
    )


class Screener:
    """Screens contacts with the resources it holds; used by the service and the batch."""

    def __init__(
        self,
        resources: Resources,
        *,
        lookback_days: int = DEFAULT_LOOKBACK_DAYS,
        audit: bool = True,
        clock: Any = None,
        lock_wait_s: float = AUTHORIZE_LOCK_WAIT_S,
    ) -> None:
        self.resources = resources
        self.lock_wait_s = lock_wait_s
        self.lookback_days = lookback_days
        self.audit = audit
        self._clock = clock or (lambda: dt.datetime.now(_UTC))

    def now(self) -> dt.datetime:
        return self._clock()

    # ------------------------------------------------------------------ screen
    def screen(
        self,
        contacts: Sequence[ContactIn],
        policy: Policy | None = None,
        explain: int = 0,
        *,
        request_id: str | None = None,
        endpoint: str = "screen",
    ) -> Outcome:
        """Decide every contact (request order). Never raises for a data or system problem."""
        policy = policy or Policy()
        now = self.now()
        records = [normalize(c.number) for c in contacts]
        planned = [c.to_contact(now, r) for c, r in zip(contacts, records, strict=True)]
        outcome = self.decide_contacts(planned, policy, explain, items=contacts)
        if self.audit:
            self._append_audit(outcome, request_id or uuid.uuid4().hex, endpoint)
        return outcome

    def decide_contacts(
        self,
        planned: Sequence[Contact],
        policy: Policy,
        explain: int = 0,
        *,
        items: Sequence[ContactIn] | None = None,
        raw_numbers: Sequence[str] | None = None,
        states: dict[str, NumberState] | None = None,
        world: WorldState | None = None,
        scores: ModelScores | None = None,
    ) -> Outcome:
        """The pipeline on already-defaulted contacts; ``states``/``world`` skip the store
        read (``authorize`` reads them inside its lock)."""
        res = self.resources
        res.ensure()
        if raw_numbers is not None:
            raws = list(raw_numbers)
        elif items is not None:
            raws = [item.number for item in items]
        else:
            raws = [c.number.raw for c in planned]
        valid = [i for i, c in enumerate(planned) if c.number.valid and c.number.e164]
        # every valid contact is scored (or failed closed) below; until then it is withheld
        scored: list[Scored] = [
            Scored([_NOT_YET_SCORED], None, None, None)
            if c.number.valid and c.number.e164
            else Scored([invalid_number(c.number)], None, None, None)
            for c in planned
        ]
        zones: list[tuple[str, ...]] = [() for _ in planned]
        problems = [n for n in ("store", "rulebook", "model") if getattr(res, n) is None]
        if valid and not problems:
            try:
                valid_contacts = [planned[i] for i in valid]
                if states is None or world is None:
                    at_max = max(c.at for c in valid_contacts)
                    at_min = min(c.at for c in valid_contacts)
                    numbers = list(dict.fromkeys(c.number.e164 for c in valid_contacts))
                    states = res.store.load_states(numbers, at_max, self.lookback_days)
                    world = res.store.world_state(at_min)
                got, got_zones = score_contacts(
                    valid_contacts, states, world, res.rulebook, res.model.model, explain, scores
                )
                for i, s, z in zip(valid, got, got_zones, strict=True):
                    scored[i] = s
                    zones[i] = z
            except Exception as exc:  # fail closed on anything, and say so in the log
                log.error(
                    "decision pipeline failed (%s: %s); withholding %d contacts",
                    exc.__class__.__name__,
                    mask_digits(str(exc))[:300],
                    len(valid),
                )
                problems = [_part_of(exc)]
        if problems and valid:
            reason = system_unavailable(", ".join(problems))
            for i in valid:
                scored[i] = Scored([reason], None, None, None)
        decided, summary = decide(scored, policy)
        results = [
            _result(
                items[i] if items is not None else None,
                raws[i],
                planned[i].number,
                scored[i],
                decided[i],
                zones[i],
            )
            for i in range(len(planned))
        ]
        if items is None:  # batch: carry the contact's own ref
            for r, c in zip(results, planned, strict=True):
                r.ref = c.ref
        model_version = res.model.version if res.model is not None else None
        rules_version = res.rules_version
        audit_rows = (
            []
            if not self.audit
            else [
                {
                    "number": r.number,
                    "decision": r.decision,
                    "reasons": [audit_reason(x) for x in r.reasons],
                    "model_version": model_version,
                    "rules_version": rules_version,
                    "at": c.at,
                    "channel": c.channel,
                    "purpose": c.purpose,
                    "campaign_id": c.campaign_id,
                    "p_complaint": r.p_complaint,
                    "p_opt_out": r.p_opt_out,
                    "risk": r.risk,
                }
                for r, c in zip(results, planned, strict=True)
            ]
        )
        return Outcome(results, Summary(**summary), res.model_ref(), res.rules_version, audit_rows)

    def _append_audit(
        self, outcome: Outcome, request_id: str, endpoint: str, wait_s: float | None = None
    ) -> None:
        """Every decision goes to the audit log. If it cannot be written (within ``wait_s``
        when given), the decisions cannot be justified later: they turn into
        ``SYSTEM_UNAVAILABLE`` withholds."""
        store = self.resources.store
        rows = [
            row | {"request_id": request_id, "endpoint": endpoint} for row in outcome.audit_rows
        ]
        try:
            if store is None:
                raise RuntimeError("store missing")
            store.append_decisions(rows, wait_s=wait_s)
        except Exception as exc:
            log.error("audit log write failed (%s); withholding", exc.__class__.__name__)
            reason = ReasonOut(**system_unavailable("audit log").to_dict())
            for r in outcome.results:
                if r.decision != "withhold" or not r.reasons:
                    r.decision = "withhold"
                    r.rank = None
                if all(x.code != "SYSTEM_UNAVAILABLE" for x in r.reasons):
                    r.reasons.append(reason)
            counts = {"allow": 0, "review": 0, "withhold": len(outcome.results)}
            by_reason: dict[str, int] = {}
            for r in outcome.results:
                for x in r.reasons:
                    by_reason[x.code] = by_reason.get(x.code, 0) + 1
            outcome.summary = Summary(
                **counts, by_reason=dict(sorted(by_reason.items())), expected_complaints=0.0
            )

    # ------------------------------------------------------------------ authorize
    def authorize(
        self, request: AuthorizeRequest, *, request_id: str | None = None
    ) -> AuthorizeResponse:
        """Check one dial and, when allowed, record it as a ``contact`` event — atomically.

        The check runs inside :meth:`Store.number_lock`, which serialises every writer of the
        number, so concurrent requests can never exceed a cap. Without ``at`` the instant is
        taken once the lock is held. The response carries the
        ``attempt_id`` (generated when not given) so outcomes can be reported against it.
        A replayed ``attempt_id`` of this number is decided afresh (without counting the
        attempt itself) and never recorded twice; the id of any other event raises
        :class:`serving.store.AttemptIdConflict`.
        """
        from features.schema import Event

        res = self.resources
        res.ensure()
        record = normalize(request.number)
        policy = request.policy
        attempt_id = request.attempt_id or f"attempt-{uuid.uuid4().hex}"
        request_id = request_id or uuid.uuid4().hex
        problems = [n for n in ("store", "rulebook", "model") if getattr(res, n) is None]
        audited = False
        if not record.valid or record.e164 is None or problems:
            contact = request.to_contact(self.now(), record)
            outcome = self.decide_contacts([contact], policy, request.explain, items=[request])
        else:
            try:
                outcome = self._authorize_locked(request, record, attempt_id, Event, request_id)
                audited = self.audit  # written in the transaction that recorded the attempt
            except AttemptIdConflict:
                raise  # the caller's mistake, answered as such (4xx naming attempt_id)
            except Exception as exc:
                log.error(
                    "authorize failed (%s: %s); withholding",
                    exc.__class__.__name__,
                    mask_digits(str(exc))[:300],
                )
                contact = request.to_contact(self.now(), record)
                outcome = Outcome(
                    [
                        _result(
                            request,
                            request.number,
                            record,
                            Scored([system_unavailable(_part_of(exc))], None, None, None),
                            Decided(
                                "withhold", [system_unavailable(_part_of(exc))], None, None, None
                            ),
                            record.time_zones,
                        )
                    ],
                    Summary(withhold=1, by_reason={"SYSTEM_UNAVAILABLE": 1}),
                    res.model_ref(),
                    res.rules_version,
                    [
                        {
                            "number": record.e164,
                            "decision": "withhold",
                            "reasons": [system_unavailable(_part_of(exc)).to_dict()],
                            "model_version": None,
                            "rules_version": res.rules_version,
                            "at": contact.at,
                        }
                    ],
                )
        for row in outcome.audit_rows:
            row["attempt_id"] = attempt_id
        if self.audit and not audited:
            self._append_audit(outcome, request_id, "authorize", wait_s=self.lock_wait_s)
        result = outcome.results[0]
        return AuthorizeResponse.model_construct(
            **{name: getattr(result, name) for name in ResultOut.model_fields},
            attempt_id=attempt_id,
            model=outcome.model,
            rules_version=outcome.rules_version,
        )

    def _authorize_locked(
        self,
        request: AuthorizeRequest,
        record: NumberRecord,
        attempt_id: str,
        event_type: Any,
        request_id: str,
    ) -> Outcome:
        res = self.resources
        # Inside the lock, one transaction: the world (registry snapshots, blocked periods),
        # the number's state (as of ``at``, plus what was recorded after it), the score, and
        # every legal and policy rule on that fresh state — so concurrent dials of one
        # number can never pass a cap together.
        with res.store.number_lock(record.e164, wait_s=self.lock_wait_s) as tx:
            contact = request.to_contact(self.now(), record)
            # an attempt id we generated is new; only a caller's own id can be a replay
            replayed_at = tx.recorded_attempt(attempt_id) if request.attempt_id else None
            world = tx.world_state(contact.at)
            state, later = tx.state_and_later(
                contact.at, contact.at + LATER_ATTEMPTS_WINDOW, self.lookback_days
            )
            # the score: the history as of ``at`` (features count only what came before)
            scored = state if replayed_at is None else without_attempt(state, replayed_at)
            scores = model_scores(
                [contact], {record.e164: scored}, res.model.model, request.explain
            )
            state = with_later_restrictions(state, later, contact.at)
            if replayed_at is not None:
                # A replay is decided afresh (an opt-out may have arrived since) without
                # counting the attempt itself; it is never recorded twice.
                state = without_attempt(state, replayed_at)
            state = prior_attempts_before(state, contact.at)
            outcome = self.decide_contacts(
                [contact],
                request.policy,
                request.explain,
                items=[request],
                states={record.e164: state},
                world=world,
                scores=scores,
            )
            if replayed_at is not None:
                for row in outcome.audit_rows:
                    row["replay"] = True
            elif outcome.results[0].decision == "allow":
                tx.record_contact(
                    event_type(
                        event_id=attempt_id,
                        number=record.e164,
                        ts=contact.at,
                        kind="contact",
                        channel=contact.channel,
                        purpose=contact.purpose,
                        subject=contact.subject,
                        campaign_id=contact.campaign_id,
                        dial_mode=contact.dial_mode,
                    )
                )
            if self.audit:  # commits with the attempt, or neither is written
                tx.append_decisions(
                    [
                        row
                        | {
                            "request_id": request_id,
                            "endpoint": "authorize",
                            "attempt_id": attempt_id,
                        }
                        for row in outcome.audit_rows
                    ]
                )
        return outcome


def _part_of(exc: BaseException) -> str:
    """Which part failed, for the fail-closed reason (no internals, no numbers)."""
    module = type(exc).__module__ or ""
    if "sqlalchemy" in module or "store" in module or "sqlite" in module:
        return "store"
    if "lightgbm" in module or "training" in module or "mlflow" in module:
        return "model"
    if "rules" in module:
        return "rule book"
    return "decision pipeline"


def screen_response(outcome: Outcome) -> ScreenResponse:
    return ScreenResponse(
        results=outcome.results,
        model=outcome.model,
        rules_version=outcome.rules_version,
        summary=outcome.summary,
    )
