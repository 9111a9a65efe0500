"""Request and response bodies of the HTTP contract (docs/api.md, v1), as pydantic models.

The service, the batch screener and the tests share these, so a field is named once.
Unknown fields are errors (a typo in a policy must not silently fall back to a default).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from features.phone import NumberRecord, normalize
from features.schema import (
    EARLIEST_INSTANT,
    LATEST_INSTANT,
    BlockedPeriod,
    Channel,
    Consent,
    DialMode,
    DncEntry,
    Event,
    Instant,
    Preference,
    Purpose,
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
    purpose: Purpose = "marketing"
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


class ScreenRequest(_Body):
    contacts: list[ContactIn] = Field(max_length=MAX_CONTACTS_PER_REQUEST)
    policy: Policy = Policy()
    explain: int = Field(0, ge=0, le=20)
    default_region: DefaultRegion = None


class AuthorizeRequest(ContactIn):
    attempt_id: str | None = Field(None, max_length=128)
    policy: Policy = Policy()
    explain: int = Field(0, ge=0, le=20)
    default_region: DefaultRegion = None


class ReasonOut(BaseModel):
    code: str
    jurisdiction: str
    rule_id: str
    legal: bool
    detail: str
    until: dt.datetime | None = None


class Explanation(BaseModel):
    feature: str
    value: float | None
    contribution: float


class ResultOut(BaseModel):
    ref: str | None = None
    number: str
    decision: str
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
    results: list[ResultOut]
    model: ModelRef
    rules_version: str | None
    summary: Summary


class AuthorizeResponse(ResultOut):
    attempt_id: str | None = None
    model: ModelRef | None = None
    rules_version: str | None = None


class EventsRequest(_Body):
    events: list[dict] = Field(max_length=MAX_RECORDS_PER_REQUEST)
    default_region: DefaultRegion = None


class RecordsRequest(_Body):
    records: list[dict] = Field(max_length=MAX_RECORDS_PER_REQUEST)
    default_region: DefaultRegion = None


class RegistryImportRequest(_Body):
    registry: Registry
    snapshot_at: Instant
    numbers: list[str] = Field(max_length=100_000)
    replace: bool = True
    allow_shrink: bool = False
    allow_empty: bool = Field(
        False, description="Accept a full snapshot with no number listed (else refused)."
    )


class SubjectRequest(_Body):
    number: str = Field(min_length=1, max_length=64)


#: Which contract each record-writing endpoint validates its items against.
RECORD_MODELS = {
    "record_events": Event,
    "record_consent": Consent,
    "record_preferences": Preference,
    "dnc_add": DncEntry,
    "dnc_remove": DncEntry,
    "block_period": BlockedPeriod,
}
