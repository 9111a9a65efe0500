"""Request and response bodies of the HTTP contract (docs/api.md, v1), as pydantic models.

The service, the batch screener and the tests share these, so a field is named once.
Unknown fields are errors (a typo in a policy must not silently fall back to a default).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from features.phone import NumberRecord, normalize
from features.schema import (
    EARLIEST_INSTANT,
    LATEST_INSTANT,
    BlockedPeriod,
    Channel,
    Consent,
    ContactPurpose,
    DialMode,
    DncEntry,
    Event,
    Instant,
    Preference,
    RegionCode,
    Registry,
    subject_of,
)
from serving.domain.decision import Policy
from serving.domain.state import Contact

MAX_CONTACTS_PER_REQUEST = 10_000
MAX_RECORDS_PER_REQUEST = 10_000
#: The instants a contact can be decided at: those of every record
#: (``features.schema.EARLIEST_INSTANT`` … ``LATEST_INSTANT``).
EARLIEST_AT = EARLIEST_INSTANT
LATEST_AT = LATEST_INSTANT


#: ``default_region`` of a request: the country whose national format its numbers may use.
DefaultRegion = Annotated[
    str | None,
    Field(
        pattern=r"^[A-Z]{2}$",
        description="ISO 3166-1 country for numbers without +CC, e.g. US for (212) 555-0123.",
    ),
]


class _Body(BaseModel):
    """Request bodies: unknown keys are errors, and inputs never appear in error messages
    (they would carry phone numbers into logs); the location names the field instead."""

    model_config = ConfigDict(
        extra="forbid", str_strip_whitespace=True, hide_input_in_errors=True, allow_inf_nan=False
    )


class ContactIn(_Body):
    """A planned contact. Only ``number`` and ``channel`` are required."""

    #: Any text: what cannot be parsed (empty, too long, letters) is a per-item
    #: ``INVALID_NUMBER`` withhold, never a failed request (docs/api.md). The bound only keeps
    #: one item from carrying a megabyte.
    number: str = Field(max_length=1024)
    channel: Channel
    #: ``opt_out_confirmation``: the one text confirming an opt-out (docs/api.md); the model
    #: scores it as a service text, its own rule decides whether it may go.
    purpose: ContactPurpose = "marketing"
    dial_mode: DialMode | None = None
    subject: str | None = Field(None, max_length=256)
    campaign_id: str | None = Field(None, max_length=256)
    at: Instant | None = None
    address_region: RegionCode | None = None
    live_agent_guaranteed: bool = False
    ref: str | None = Field(None, max_length=256)

    @field_validator("at")
    @classmethod
    def _at_in_range(cls, value: dt.datetime | None) -> dt.datetime | None:
        if value is not None and not EARLIEST_AT <= value < LATEST_AT:
            raise ValueError(
                f"must be from {EARLIEST_AT:%Y-%m-%d} to before {LATEST_AT:%Y-%m-%d} (UTC)"
            )
        return value

    def to_contact(self, now: dt.datetime, record: NumberRecord | None = None) -> Contact:
        """Apply the API defaults: marketing, manual, subject = campaign_id or "default",
        at = now. (The rules treat every SMS as sent by an automated platform.)"""
        return Contact(
            number=record or normalize(self.number),
            channel=self.channel,
            at=self.at or now,
            purpose=self.purpose,
            dial_mode=self.dial_mode or "manual",
            subject=subject_of(self.subject, self.campaign_id),
            campaign_id=self.campaign_id,
            address_region=self.address_region,
            live_agent_guaranteed=self.live_agent_guaranteed,
            ref=self.ref,
        )


def _example(example: dict) -> ConfigDict:
    """A request model's configuration with one example (shown in the OpenAPI document)."""
    return _Body.model_config | ConfigDict(json_schema_extra={"examples": [example]})


_AT = "2026-06-16T14:00:00Z"


class ScreenRequest(_Body):
    """Planned contacts to decide, with the policy and how many explanations to return."""

    model_config = _example(
        {
            "contacts": [
                {"number": "+13055550142", "channel": "call", "at": _AT, "ref": "crm-123"},
                {"number": "+13055550143", "channel": "sms", "purpose": "service"},
            ],
            "policy": {"review_above": 0.5, "withhold_above": 0.8},
            "explain": 3,
        }
    )

    contacts: list[ContactIn] = Field(max_length=MAX_CONTACTS_PER_REQUEST)
    policy: Policy = Policy()
    explain: int = Field(0, ge=0, le=20)
    default_region: DefaultRegion = None


class AuthorizeRequest(ContactIn):
    """One dial about to happen: a contact plus its attempt id, policy and explanations."""

    model_config = _example(
        {"number": "+13055550142", "channel": "call", "at": _AT, "attempt_id": "dial-0001"}
    )

    attempt_id: str | None = Field(None, max_length=128)
    policy: Policy = Policy()
    explain: int = Field(0, ge=0, le=20)
    default_region: DefaultRegion = None


class ReasonOut(BaseModel):
    """Why a contact is withheld: the rule that fired, in words, and when it clears."""

    code: str
    jurisdiction: str
    rule_id: str
    legal: bool
    detail: str
    until: dt.datetime | None = None


class Explanation(BaseModel):
    """One feature's push on the risk: ``value`` is the feature's value — a category's name
    for a categorical feature (``"service"``), with its model ``code`` beside it."""

    feature: str
    value: float | str | None
    contribution: float
    code: int | None = None


class ResultOut(BaseModel):
    """The decision on one contact."""

    ref: str | None = None
    number: str
    decision: Literal["allow", "review", "withhold"]
    reasons: list[ReasonOut]
    p_complaint: float | None = None
    p_opt_out: float | None = None
    risk: float | None = None
    rank: int | None = None
    next_allowed_at: dt.datetime | None = None
    region: str | None = None
    subdivision: str | None = None
    time_zones: list[str] = Field(default_factory=list)
    explanations: list[Explanation] = Field(default_factory=list)


class ModelRef(BaseModel):
    name: str | None = None
    version: str | None = None
    alias: str | None = None


class Summary(BaseModel):
    allow: int = 0
    review: int = 0
    withhold: int = 0
    by_reason: dict[str, int] = Field(default_factory=dict)
    expected_complaints: float = 0.0


class ScreenResponse(BaseModel):
    """One decision per contact, in request order, with the model, rules and summary."""

    results: list[ResultOut]
    model: ModelRef
    rules_version: str | None
    summary: Summary


class AuthorizeResponse(ResultOut):
    """The decision on one dial, and the attempt it was recorded as when allowed."""

    attempt_id: str | None = None
    model: ModelRef | None = None
    rules_version: str | None = None


class EventsRequest(_Body):
    """Events to store; each is checked on its own (docs/data-contracts.md, "events")."""

    model_config = _example(
        {
            "events": [
                {
                    "event_id": "sms-in-1",
                    "number": "+12125550142",
                    "ts": "2026-06-16T15:00:00Z",
                    "kind": "reply",
                    "text": "Stop.",
                }
            ]
        }
    )

    events: list[dict] = Field(max_length=MAX_RECORDS_PER_REQUEST)
    default_region: DefaultRegion = None


class RecordsRequest(_Body):
    """Records to store; each is checked on its own against its endpoint's contract."""

    records: list[dict] = Field(max_length=MAX_RECORDS_PER_REQUEST)
    default_region: DefaultRegion = None


class RegistryImportRequest(_Body):
    """A do-not-call registry snapshot to swap in (``replace``) or add to."""

    model_config = _example(
        {
            "registry": "US_NATIONAL_DNC",
            "snapshot_at": "2026-06-15T00:00:00Z",
            "numbers": ["+13055550199"],
            "replace": False,
        }
    )

    registry: Registry
    snapshot_at: Instant
    numbers: list[str] = Field(max_length=100_000)
    replace: bool = True
    allow_shrink: bool = False
    allow_empty: bool = Field(
        False, description="Accept a full snapshot with no number listed (else refused)."
    )


class SubjectRequest(_Body):
    """The person, by phone number."""

    model_config = _example({"number": "+12125550142"})

    number: str = Field(min_length=1, max_length=64)


class Rejection(BaseModel):
    """A record that was not stored: its position in the request and the first problem."""

    index: int
    error: str


class WriteResult(BaseModel):
    """What a write stored: new records, replays (no-ops) and the rejected ones."""

    accepted: int
    duplicates: int
    rejected: list[Rejection]


class EventAction(BaseModel):
    """A stored event that acts at once (an opt-out or opt-in, by event or reply)."""

    index: int
    action: Literal["opt_out", "opt_in"]


class EventsResult(WriteResult):
    """What ``record_events`` stored, and the stored events that act at once."""

    actions: list[EventAction]


class RegistryImportResult(BaseModel):
    """The snapshot now in force and what the import took."""

    registry: str
    snapshot_at: dt.datetime
    accepted: int
    listed: int
    rejected: list[Rejection]
    rejected_count: int


class ErasureResult(BaseModel):
    """What an erasure deleted and kept (counts, no personal data)."""

    number_hash: str
    events_deleted: int
    consent_deleted: int
    preferences_deleted: int
    dnc_kept_hash_only: int
    tombstone: bool
    erased_at: dt.datetime


class SubjectReport(BaseModel):
    """Everything held on a person, decrypted for them (records as stored)."""

    number: str
    number_hash: str
    events: list[dict[str, Any]]
    consent: list[dict[str, Any]]
    preferences: list[dict[str, Any]]
    dnc: list[dict[str, Any]]
    registry_listings: list[str]
    decisions: list[dict[str, Any]]
    erased_at: dt.datetime | None
    suppressed: bool


#: Which contract each record-writing endpoint validates its items against.
RECORD_MODELS = {
    "record_events": Event,
    "record_consent": Consent,
    "record_preferences": Preference,
    "dnc_add": DncEntry,
    "dnc_remove": DncEntry,
    "block_period": BlockedPeriod,
}
