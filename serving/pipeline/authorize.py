"""``authorize``: check one dial and, when allowed, record it — in one transaction.

The check runs inside the store's per-number lock (``Store.number_lock``), which serialises
every writer of the number, so concurrent requests can never exceed a cap. Without ``at``
the instant is taken once the lock is held. The response carries the ``attempt_id``
(generated when not given) so outcomes can be reported against it. A replayed
``attempt_id`` of this number is decided afresh (without counting the attempt itself) and
never recorded twice; the id of any other event raises ``AttemptIdConflict``.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import TYPE_CHECKING

from features.phone import NumberRecord, normalize
from features.schema import Event
from serving.domain.contract import AuthorizeRequest, AuthorizeResponse, ResultOut, Summary
from serving.domain.decision import Decided, Scored
from serving.domain.reasons import mask_digits, reason_dict, system_unavailable
from serving.pipeline.history import (
    prior_attempts_before,
    with_later_restrictions,
    without_attempt,
)
from serving.pipeline.scoring import model_scores
from serving.pipeline.screen import Outcome, build_result, failed_part
from serving.store import AttemptIdConflict

if TYPE_CHECKING:
    from serving.pipeline.screen import Screener

log = logging.getLogger("contactgate.screening")

#: How far after an authorize's ``at`` recorded events are still looked at: the longest cap
#: window of any pack (FR: 4 per rolling 30 days) plus a margin.
LATER_ATTEMPTS_WINDOW = dt.timedelta(days=31)


class AtOutOfRange(ValueError):
    """``authorize``'s ``at`` is not now (within the allowed skew of the server clock): a dial
    authorised for another instant would be checked against another day's state and
    recorded outside the caps in force now. Answered as a 400 naming ``at``."""


def check_at(at: dt.datetime | None, now: dt.datetime, skew: dt.timedelta) -> None:
    """Raise :class:`AtOutOfRange` unless ``at`` (None: now) is within ``skew`` of ``now``."""
    if at is not None and abs(at - now) > skew:
        raise AtOutOfRange(
            f"at: {at.isoformat()} is not now: an authorize must be within "
            f"{skew.total_seconds():g} s of the server clock ({now.isoformat(timespec='seconds')}); "
            "plan later contacts with screen"
        )


def authorize(
    screener: Screener, request: AuthorizeRequest, *, request_id: str | None = None
) -> AuthorizeResponse:
    """One dial's decision; an allowed dial is recorded as a ``contact`` event with it.
    Raises :class:`AtOutOfRange` for an ``at`` that is not now (nothing is decided)."""
    check_at(request.at, screener.now(), screener.authorize_skew)
    res = screener.resources
    res.ensure()
    record = normalize(request.number, request.default_region)
    attempt_id = request.attempt_id or f"attempt-{uuid.uuid4().hex}"
    request_id = request_id or uuid.uuid4().hex
    problems = [n for n in ("store", "rulebook", "model") if getattr(res, n) is None]
    audited = False
    if not record.valid or record.e164 is None or problems:
        contact = request.to_contact(screener.now(), record)
        outcome = screener.decide_contacts(
            [contact], request.policy, request.explain, items=[request]
        )
    else:
        try:
            outcome = _authorize_locked(screener, request, record, attempt_id, request_id)
            audited = screener.audit  # written in the transaction that recorded the attempt
        except AttemptIdConflict:
            raise  # the caller's mistake, answered as such (4xx naming attempt_id)
        except Exception as exc:
            log.error(
                "authorize failed (%s: %s); withholding",
                exc.__class__.__name__,
                mask_digits(str(exc))[:300],
            )
            outcome = _failed(screener, request, record, exc)
    for row in outcome.audit_rows:
        row["attempt_id"] = attempt_id
    if screener.audit and not audited:
        screener.append_audit(outcome, request_id, "authorize", wait_s=screener.lock_wait_s)
    result = outcome.results[0]
    return AuthorizeResponse.model_construct(
        **{name: getattr(result, name) for name in ResultOut.model_fields},
        attempt_id=attempt_id,
        model=outcome.model,
        rules_version=outcome.rules_version,
    )


def _failed(
    screener: Screener, request: AuthorizeRequest, record: NumberRecord, exc: Exception
) -> Outcome:
    """The dial withheld ``SYSTEM_UNAVAILABLE``, naming the part that failed."""
    res = screener.resources
    contact = request.to_contact(screener.now(), record)
    reason = system_unavailable(failed_part(exc))
    result = build_result(
        request,
        request.number,
        record,
        Scored([reason], None, None, None),
        Decided("withhold", [reason], None, None, None),
        record.time_zones,
    )
    row = {
        "number": record.e164,
        "decision": "withhold",
        "reasons": [reason_dict(reason)],
        "model_version": None,
        "rules_version": res.rules_version,
        "at": contact.at,
    }
    return Outcome(
        [result],
        Summary(withhold=1, by_reason={"SYSTEM_UNAVAILABLE": 1}),
        res.model_ref(),
        res.rules_version,
        [row],
    )


def _authorize_locked(
    screener: Screener,
    request: AuthorizeRequest,
    record: NumberRecord,
    attempt_id: str,
    request_id: str,
) -> Outcome:
    res = screener.resources
    assert res.store is not None and res.model is not None and record.e164 is not None
    # Inside the lock, one transaction: the world (registry snapshots, blocked periods),
    # the number's state (as of ``at``, plus what was recorded after it), the score, and
    # every legal and policy rule on that fresh state — so concurrent dials of one
    # number can never pass a cap together.
    with res.store.number_lock(record.e164, wait_s=screener.lock_wait_s) as tx:
        contact = request.to_contact(screener.now(), record)
        # an attempt id we generated is new; only a caller's own id can be a replay
        replayed_at = tx.recorded_attempt(attempt_id) if request.attempt_id else None
        world = tx.world_state(contact.at)
        state, later = tx.state_and_later(
            contact.at, contact.at + LATER_ATTEMPTS_WINDOW, screener.lookback_days
        )
        # the score: the history as of ``at`` (features count only what came before)
        scored = state if replayed_at is None else without_attempt(state, replayed_at)
        model = res.model  # read once: the score and the decision name one version
        scores = model_scores([contact], {record.e164: scored}, model.model, request.explain)
        state = with_later_restrictions(state, later, contact.at)
        if replayed_at is not None:
            # A replay is decided afresh (an opt-out may have arrived since) without
            # counting the attempt itself; it is never recorded twice.
            state = without_attempt(state, replayed_at)
        state = prior_attempts_before(state, contact.at)
        outcome = screener.decide_contacts(
            [contact],
            request.policy,
            request.explain,
            items=[request],
            states={record.e164: state},
            world=world,
            scores=scores,
            model=model,
        )
        if replayed_at is not None:
            for row in outcome.audit_rows:
                row["replay"] = True
        elif outcome.results[0].decision == "allow":
            tx.record_contact(
                Event(
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
        if screener.audit:  # commits with the attempt, or neither is written
            tx.append_decisions(
                [
                    row
                    | {"request_id": request_id, "endpoint": "authorize", "attempt_id": attempt_id}
                    for row in outcome.audit_rows
                ]
            )
    return outcome
