"""Data contracts: one schema for files and for the HTTP API.

Each record type is a pydantic model (used as-is by the API). The file side — typed
pandas/pyarrow columns and row-level validation of CSV/Parquet files — is *derived* from
the same models by :mod:`features.io`, so a field is declared exactly once.

Instants are timezone-aware and normalised to UTC. A naive timestamp is an error: a
contact-compliance system cannot guess which clock a campaign tool meant.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator

# --------------------------------------------------------------------------- vocabularies
EventKind = Literal[
    "contact",
    "reply",
    "complaint",
    "opt_out",
    "opt_in",
    "refusal",
    "purchase",
    "inquiry",
    "contract_start",
    "contract_end",
]
Channel = Literal["call", "sms"]
ChannelScope = Literal["call", "sms", "any"]
#: What a consent is for, and the purposes the risk model knows (its vocabulary is pinned
#: by every model bundle: growing it needs a new model).
Purpose = Literal["marketing", "service"]
#: What a contact is for: a :data:`Purpose`, or the one text that confirms an opt-out (no
#: marketing, within minutes of it; the rules allow it once per opt-out). The model scores a
#: purpose outside its vocabulary as the one it reads like (:data:`SCORED_AS_PURPOSE`).
ContactPurpose = Literal["marketing", "service", "opt_out_confirmation"]
DialMode = Literal["manual", "predictive", "prerecorded"]
Outcome = Literal[
    "answered", "no_answer", "busy", "voicemail", "abandoned", "amd", "failed", "delivered"
]
ComplaintSource = Literal["customer", "carrier", "regulator"]
ConsentType = Literal["express", "written", "soft_opt_in", "implied"]
DncScope = Literal["all", "call", "sms"]
DncCategory = Literal["do_not_contact", "not_interested"]
DncAction = Literal["add", "remove"]
Registry = Literal[
    "US_NATIONAL_DNC", "CA_DNCL", "GB_TPS", "GB_CTPS", "FR_BLOCTEL", "AU_DNCR",
    "US_CO_DNC", "US_FL_DNC", "US_IN_DNC", "US_LA_DNC", "US_MA_DNC", "US_MO_DNC",
    "US_MS_DNC", "US_OK_DNC", "US_PA_DNC", "US_TN_DNC", "US_TX_DNC", "US_WY_DNC",
    "IT_RPO", "BR_NAO_ME_PERTURBE",
]  # fmt: skip

EVENT_KINDS: tuple[str, ...] = EventKind.__args__  # type: ignore[attr-defined]
CHANNELS: tuple[str, ...] = Channel.__args__  # type: ignore[attr-defined]
PURPOSES: tuple[str, ...] = Purpose.__args__  # type: ignore[attr-defined]
CONTACT_PURPOSES: tuple[str, ...] = ContactPurpose.__args__  # type: ignore[attr-defined]
#: Contact purposes the model does not know → the purpose it scores them as. A confirmation
#: of an opt-out is not marketing: it is scored (and counted in the features) as a service text.
SCORED_AS_PURPOSE: dict[str, str] = {"opt_out_confirmation": "service"}
#: Contact purposes that are not marketing (the features' "marketing contacts" leave them out).
NON_MARKETING_PURPOSES: tuple[str, ...] = ("service", "opt_out_confirmation")
DIAL_MODES: tuple[str, ...] = DialMode.__args__  # type: ignore[attr-defined]
OUTCOMES: tuple[str, ...] = Outcome.__args__  # type: ignore[attr-defined]
CONSENT_TYPES: tuple[str, ...] = ConsentType.__args__  # type: ignore[attr-defined]
REGISTRIES: tuple[str, ...] = Registry.__args__  # type: ignore[attr-defined]

#: Fields an event of a given kind must carry (besides the common ones). Used by the
#: pydantic validator and by the vectorised file validator alike.
EVENT_KIND_REQUIRES: dict[str, tuple[str, ...]] = {
    "contact": ("channel",),
    "reply": ("text",),
}


#: The span every instant of the contracts lies in (event ``ts``, ``granted_at``,
#: ``added_at``, ``snapshot_at``, block periods, a contact's ``at`` …). The features measure
#: time between two instants in nanoseconds, which overflows past ~292 years; inside this
#: span any two instants are less than 230 years apart, so one odd record can never make a
#: later decision fail.
EARLIEST_INSTANT = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
LATEST_INSTANT = dt.datetime(2200, 1, 1, tzinfo=dt.UTC)
INSTANT_RANGE_TEXT = (
    f"must be from {EARLIEST_INSTANT:%Y-%m-%d} to before {LATEST_INSTANT:%Y-%m-%d} (UTC)"
)


def _to_utc(value: dt.datetime) -> dt.datetime:
    try:
        value = value.astimezone(dt.UTC)
    except OverflowError:
        # e.g. 9999-12-31T23:00:00-05:00: a valid ISO-8601 text whose UTC instant is past
        # year 9999. A ValueError makes it a validation error naming the field (pydantic
        # lets an OverflowError escape, which the service would answer with a 500).
        raise ValueError(INSTANT_RANGE_TEXT) from None
    if not EARLIEST_INSTANT <= value < LATEST_INSTANT:
        raise ValueError(INSTANT_RANGE_TEXT)
    return value


Instant = Annotated[AwareDatetime, AfterValidator(_to_utc)]
"""An ISO-8601 instant with an offset or ``Z``, inside :data:`EARLIEST_INSTANT` …
:data:`LATEST_INSTANT`; stored in UTC."""

_REGION_RE = re.compile(r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$")


def _check_region(value: str) -> str:
    if not _REGION_RE.match(value):
        raise ValueError(f"{value!r} is not an ISO 3166-1/2 code such as 'US' or 'US-LA'")
    return value


RegionCode = Annotated[str, AfterValidator(_check_region)]
_HHMM_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def _check_hhmm(value: str) -> str:
    if not _HHMM_RE.match(value):
        raise ValueError(f"{value!r} is not a local time HH:MM")
    return value


LocalTime = Annotated[str, AfterValidator(_check_hhmm)]
NonEmpty = Annotated[str, Field(min_length=1, max_length=256)]


class Record(BaseModel):
    """Base of every contract: unknown fields are errors, values are immutable."""

    #: NaN and ±Infinity are refused in every number (JSON allows neither; Python's parser
    #: would take them, and a stored Infinity breaks every later read of the record).
    model_config = ConfigDict(
        extra="forbid", frozen=True, str_strip_whitespace=True, allow_inf_nan=False
    )


# --------------------------------------------------------------------------- records
class Event(Record):
    """One thing that happened to a number (docs/data-contracts.md, "events")."""

    event_id: NonEmpty = Field(description="Unique id; replaying it is a no-op.")
    number: NonEmpty = Field(description="Phone number as given; normalised at the boundary.")
    ts: Instant = Field(description="When it happened (UTC).")
    kind: EventKind
    channel: Channel | None = Field(
        None, description="contact: call|sms (required). opt_out/opt_in: scope; empty = all."
    )
    purpose: ContactPurpose | None = Field(
        None,
        description="contact: marketing (default), service or opt_out_confirmation (the one "
        "text confirming an opt-out).",
    )
    subject: str | None = Field(None, max_length=256, description="What the contact is about.")
    campaign_id: str | None = Field(None, max_length=256)
    dial_mode: DialMode | None = Field(
        None, description="contact: manual|predictive|prerecorded; an SMS is always automated."
    )
    outcome: Outcome | None = Field(None, description="contact: result of the attempt.")
    duration_s: float | None = Field(None, ge=0, description="contact: talk time in seconds.")
    text: str | None = Field(None, max_length=2000, description="reply: the inbound SMS text.")
    source: ComplaintSource | None = Field(None, description="complaint: who complained.")
    p_complaint_true: float | None = Field(
        None, ge=0, le=1, description="Simulated data only: true complaint probability."
    )
    p_opt_out_true: float | None = Field(
        None, ge=0, le=1, description="Simulated data only: true opt-out probability."
    )
    p_complaint_observable: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Simulated data only: complaint probability given everything observable "
        "before the contact (the true one averaged over the person's unseen sensitivity).",
    )
    p_opt_out_observable: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Simulated data only: opt-out probability given everything observable "
        "before the contact.",
    )

    @model_validator(mode="after")
    def _kind_fields(self) -> Event:
        for name in EVENT_KIND_REQUIRES.get(self.kind, ()):
            if getattr(self, name) in (None, ""):
                raise ValueError(f"{name} is required for a {self.kind} event")
        return self


def subject_of(subject: str | None, campaign_id: str | None) -> str:
    """What a contact is about, with the Event contract's default: its ``subject``, else its
    ``campaign_id``, else ``"default"``. Empty text counts as missing (``""`` is no subject).

    >>> subject_of(None, "spring"), subject_of("", None), subject_of("loans", "spring")
    ('spring', 'default', 'loans')
    """
    return subject or campaign_id or "default"


class Consent(Record):
    """A consent grant, optionally revoked (append-only ledger)."""

    consent_id: str | None = Field(None, max_length=256, description="Idempotency key.")
    number: NonEmpty
    channel: ChannelScope = "any"
    purpose: Purpose = "marketing"
    type: ConsentType
    granted_at: Instant
    revoked_at: Instant | None = None
    evidence: str | None = Field(
        None, max_length=4000, description="Who, where, wording version (encrypted at rest)."
    )
    confirmed_at: Instant | None = Field(None, description="Double opt-in confirmation.")
    outside_hours: bool = Field(
        False, description="Express consent to calls outside standard hours, where allowed."
    )

    @model_validator(mode="after")
    def _order(self) -> Consent:
        if self.revoked_at is not None and self.revoked_at < self.granted_at:
            raise ValueError("revoked_at is before granted_at")
        return self


class Preference(Record):
    """What the person asked for; honoured as company policy (POLICY reasons)."""

    number: NonEmpty
    max_per_week: int | None = Field(None, ge=0, le=1000)
    urgent_only: bool = False
    quiet_start: LocalTime | None = None
    quiet_end: LocalTime | None = None
    channels: str | None = Field(
        None, description="Allowed channels separated by '|', e.g. 'sms' or 'call|sms'."
    )
    updated_at: Instant

    @model_validator(mode="after")
    def _quiet_pair(self) -> Preference:
        if (self.quiet_start is None) != (self.quiet_end is None):
            raise ValueError("quiet_start and quiet_end go together")
        if self.channels is not None:
            bad = [c for c in self.channels.split("|") if c not in CHANNELS]
            if bad:
                raise ValueError(f"channels: unknown channel(s) {bad}; use call|sms")
        return self


class DncEntry(Record):
    """Internal do-not-call list entry; a removal is a new record, never an update."""

    number: NonEmpty
    action: DncAction = "add"
    scope: DncScope = "all"
    category: DncCategory = "do_not_contact"
    added_at: Instant = Field(description="When the request was made (or removed).")
    source: str | None = Field(None, max_length=256)


class RegistrySnapshot(Record):
    """A do-not-call registry snapshot (numbers listed at ``snapshot_at``)."""

    registry: Registry
    snapshot_at: Instant
    numbers: list[NonEmpty] = Field(default_factory=list, max_length=100_000)
    replace: bool = True


class BlockedPeriod(Record):
    """An operator-declared period with no marketing in a region (emergency, holiday)."""

    region: RegionCode
    start: Instant
    end: Instant
    reason: NonEmpty

    @model_validator(mode="after")
    def _order(self) -> BlockedPeriod:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


#: Record types that can be loaded from files, by the name used on the command line.
FILE_RECORDS: dict[str, type[Record]] = {
    "events": Event,
    "consent": Consent,
    "preferences": Preference,
    "dnc": DncEntry,
    "blocked_periods": BlockedPeriod,
}


def parse_instant(text: str, what: str, *, date_ok: bool = True) -> dt.datetime:
    """The one parser of instants given on a command line: ISO-8601 with an offset or
    ``Z`` (any case), or — when ``date_ok`` — a date ``YYYY-MM-DD`` read as midnight UTC.
    Returns an aware UTC instant; a ValueError names ``what`` (the option or field)."""
    text = text.strip()
    if date_ok and len(text) == 10:
        try:
            return dt.datetime.combine(dt.date.fromisoformat(text), dt.time(), dt.UTC)
        except ValueError:
            pass
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        shape = "an ISO-8601 date or instant" if date_ok else "an ISO-8601 instant"
        raise ValueError(f"{what} {text!r}: not {shape} (e.g. 2026-06-10T09:00:00Z)") from None
    if value.tzinfo is None:
        raise ValueError(f"{what} {text!r}: give an offset or Z (instants are UTC)")
    try:
        return _to_utc(value)
    except ValueError as exc:
        raise ValueError(f"{what} {text!r}: {exc}") from None
