"""The one decision pipeline, shared by the HTTP service and the batch command.

    numbers normalised → ONE batched store read (``load_states``) → the feature kernels on that
    history (:mod:`serving.pipeline.scoring`) → calibrated model → rules engine →
    :func:`serving.domain.decision.decide` → audit rows (:mod:`serving.pipeline.audit`).

Why one read: the store returns every event the rules need (``NumberState.history``) and
the feature kernels need a subset of the same events, so the features are computed from the
states' records instead of a second query (and without building frames: for one dial,
frame assembly cost ~15 ms against 0.2 ms of work). The instant of the read is the latest
``at`` of the request; the engine and the feature kernels both ignore events after each
contact's own ``at`` ("as of" semantics), so one read serves contacts at different instants.

Fail closed: when the store, the rule book or the model is unavailable — or anything in the
pipeline raises — every contact is withheld with ``SYSTEM_UNAVAILABLE``; only an unparsable
number keeps its own ``INVALID_NUMBER``. The dialer always gets an answer, never a contact
allowed on missing information.

Privacy: numbers reach logs and the audit log only as keyed hashes (the store hashes them);
exception messages are logged with digits masked.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from features.phone import NumberRecord, normalize
from serving.domain.contract import (
    AuthorizeRequest,
    AuthorizeResponse,
    ContactIn,
    ModelRef,
    ReasonOut,
    ResultOut,
    ScreenResponse,
    Summary,
)
from serving.domain.decision import Decided, Policy, Scored, decide
from serving.domain.reasons import invalid_number, mask_digits, system_unavailable
from serving.domain.state import Contact, NumberState, WorldState
from serving.pipeline import audit
from serving.pipeline.protocols import DecisionModel
from serving.pipeline.resources import Resources
from serving.pipeline.scoring import ModelScores, score_contacts

log = logging.getLogger("contactgate.screening")

#: Days of history read per number. The store keeps durable kinds (opt-outs, complaints,
#: purchases, contracts) for ever; 400 days covers every rule window (caps 30 d, refusal
#: cooling-off 60 d, EBR 18-24 months come from durable kinds) and the 90-day features.
DEFAULT_LOOKBACK_DAYS = 400
#: How long ``authorize`` waits for the number's lock (the store's writer slot on SQLite)
#: before it withholds ``SYSTEM_UNAVAILABLE``: a dialer needs an answer now, and the service
#: runs dials on its event loop, which must not sit in a 30 s busy wait.
AUTHORIZE_LOCK_WAIT_S = 2.0
#: How far ``authorize``'s ``at`` may lie from the clock (``CONTACTGATE_AUTHORIZE_SKEW_S``).
AUTHORIZE_SKEW = dt.timedelta(minutes=5)
_NOT_YET_SCORED = system_unavailable("decision pipeline")


@dataclass
class Outcome:
    """Results of one screening call, in request order, plus what produced them."""

    results: list[ResultOut]
    summary: Summary
    model: ModelRef
    rules_version: str | None
    audit_rows: list[dict[str, Any]]


def build_result(
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
        clock: Callable[[], dt.datetime] | None = None,
        lock_wait_s: float = AUTHORIZE_LOCK_WAIT_S,
        authorize_skew: dt.timedelta = AUTHORIZE_SKEW,
    ) -> None:
        self.resources = resources
        self.authorize_skew = authorize_skew
        self.lock_wait_s = lock_wait_s
        self.lookback_days = lookback_days
        self.audit = audit
        self._clock: Callable[[], dt.datetime] = clock or (lambda: dt.datetime.now(dt.UTC))

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
        default_region: str | None = None,
    ) -> Outcome:
        """Decide every contact (request order). Never raises for a data or system problem.
        ``default_region`` parses numbers written without +CC (national format)."""
        policy = policy or Policy()
        now = self.now()
        records = [normalize(c.number, default_region) for c in contacts]
        planned = [c.to_contact(now, r) for c, r in zip(contacts, records, strict=True)]
        outcome = self.decide_contacts(planned, policy, explain, items=contacts)
        if self.audit:
            self.append_audit(outcome, request_id or uuid.uuid4().hex, endpoint)
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
        model: DecisionModel | None = None,
    ) -> Outcome:
        """The pipeline on already-defaulted contacts; ``states``/``world`` skip the store
        read (``authorize`` reads them inside its lock). The model is read once (``model``:
        the one ``scores`` came from), so a champion swapped in meanwhile never mixes into
        one decision: it is scored and labelled by one version."""
        res = self.resources
        res.ensure()
        model = res.model if model is None else model
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
            else Scored([invalid_number(c.number.invalid_reason)], None, None, None)
            for c in planned
        ]
        zones: list[tuple[str, ...]] = [() for _ in planned]
        problems = [n for n in ("store", "rulebook") if getattr(res, n) is None]
        if model is None:
            problems.append("model")
        if valid and not problems:

            def run(indices: Sequence[int]) -> None:
                group = [planned[i] for i in indices]
                got_states, got_world = states, world
                if got_states is None or got_world is None:
                    numbers = list(dict.fromkeys(c.number.e164 for c in group))
                    got_states = res.store.load_states(
                        numbers, max(c.at for c in group), self.lookback_days
                    )
                    got_world = res.store.world_state(min(c.at for c in group))
                got, got_zones = score_contacts(
                    group, got_states, got_world, res.rulebook, model.model, explain, scores
                )
                for i, s, z in zip(indices, got, got_zones, strict=True):
                    scored[i] = s
                    zones[i] = z

            try:
                run(valid)
            except Exception as exc:  # fail closed on anything, and say so in the log
                log.error(
                    "decision pipeline failed (%s: %s) for %d contacts",
                    exc.__class__.__name__,
                    mask_digits(str(exc))[:300],
                    len(valid),
                )
                if len(valid) > 1 and scores is None and self._isolable(exc):
                    _isolate(valid, run, scored)
                else:
                    problems = [failed_part(exc)]
        if problems and valid:
            reason = system_unavailable(", ".join(problems))
            for i in valid:
                scored[i] = Scored([reason], None, None, None)
        decided, summary = decide(scored, policy)
        results = [
            build_result(
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
        audit_rows = (
            audit.decision_rows(
                results,
                planned,
                model.version if model is not None else None,
                res.rules_version,
            )
            if self.audit
            else []
        )
        ref = res.model_ref(model) if model is not None else ModelRef()
        return Outcome(results, Summary(**summary), ref, res.rules_version, audit_rows)

    def _isolable(self, exc: BaseException) -> bool:
        """Whether a failed batch may be retried in parts to find the contacts it fails on:
        not when the store itself is unavailable (every part would fail the same way)."""
        from serving.store import StoreUnavailable

        if isinstance(exc, StoreUnavailable) or self.resources.store is None:
            return False
        try:
            self.resources.store.ping()
        except Exception:
            return False
        return True

    def append_audit(
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
            outcome.summary = audit.withhold_unaudited(outcome.results)

    # ------------------------------------------------------------------ authorize
    def authorize(
        self, request: AuthorizeRequest, *, request_id: str | None = None
    ) -> AuthorizeResponse:
        """Check one dial and, when allowed, record it — atomically
        (:func:`serving.pipeline.authorize.authorize`)."""
        from serving.pipeline.authorize import authorize

        return authorize(self, request, request_id=request_id)


#: At most this many parts of a failed batch are withheld one by one; past it, the failure
#: is not one odd record and the rest of the batch is withheld as well.
MAX_ISOLATED_FAILURES = 16


def _isolate(
    indices: Sequence[int], run: Callable[[Sequence[int]], None], scored: list[Scored]
) -> None:
    """Per-contact isolation: one bad stored record (say, an instant no decision can be
    computed from) must not withhold every other contact of the batch. The failed batch
    is decided again in halves, recursively, so only the contacts whose own decision fails
    are withheld ``SYSTEM_UNAVAILABLE`` — at the cost of about twice the work, and only
    when a batch fails."""
    failures = 0
    pending = [list(indices)]
    while pending:
        part = pending.pop()
        if failures >= MAX_ISOLATED_FAILURES:
            reason = system_unavailable("decision pipeline")
            for i in part:
                scored[i] = Scored([reason], None, None, None)
            continue
        if len(part) > 1:
            half = len(part) // 2
            for piece in (part[half:], part[:half]):
                try:
                    run(piece)
                except Exception:
                    pending.append(piece)
            continue
        try:
            run(part)
        except Exception as exc:
            failures += 1
            scored[part[0]] = Scored([system_unavailable(failed_part(exc))], None, None, None)


def failed_part(exc: BaseException) -> str:
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
