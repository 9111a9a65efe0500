"""What the rules need from one contact's state (:class:`_Facts`), derived once per
evaluation, and where the number (and a known address) puts it (:func:`_place`)."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable
from zoneinfo import ZoneInfo

from features.replies import classify_reply
from features.schema import Consent
from serving.domain.state import Contact, HistoryEvent, NumberState, WorldState
from serving.rules.clock import _span_end, _zone
from serving.rules.places import zones_for_region

#: Consents that allow calls outside hours.
_OUTSIDE_HOURS_TYPES = frozenset({"express", "written"})
#: What a rule reads that may be absent (``_Rule.needs``): a rule whose input is empty passes
#: at every instant, so :func:`evaluate` leaves it out (``_Facts.present`` says what is there).
_PAST_CONTACTS, _HISTORY, _REVOCATIONS, _DNC, _BLOCKED, _PREFERENCE = (1 << i for i in range(6))


@functools.lru_cache(maxsize=4_096)
def _place(
    region: str | None,
    subdivision: str | None,
    non_geographic: bool,
    time_zones: tuple[str, ...],
    address: str | None,
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[ZoneInfo, ...]]:
    """Countries, subdivisions, zone names and zones of a number (and known address)."""
    countries = [region] if region and region != "001" else []
    subdivisions = [subdivision] if subdivision else []
    if address:
        country = address.split("-", 1)[0]
        if country not in countries:
            countries.append(country)
        if "-" in address and address not in subdivisions:
            subdivisions.append(address)
    names: list[str] = [] if non_geographic else list(time_zones)
    if address:
        names.extend(zone for zone in zones_for_region(address) if zone not in names)
    return tuple(countries), tuple(subdivisions), tuple(names), tuple(_zone(n) for n in names)


class _Facts:
    """What the rules need from one contact's state, derived once per evaluation."""

    __slots__ = (
        "contact", "state", "world", "at", "zones", "zone_names", "region", "country_codes",
        "subdivision_codes", "contacts", "contact_times", "events", "revocations", "opt_ins",
        "dnc_active", "last_dnc_add", "default_regions", "blocked_cache", "present",
    )  # fmt: skip

    def __init__(self, contact: Contact, state: NumberState, world: WorldState) -> None:
        self.contact = contact
        self.state = state
        self.world = world
        self.at = contact.at
        number = contact.number
        self.region = number.region
        self.country_codes, self.subdivision_codes, self.zone_names, self.zones = _place(
            number.region,
            number.subdivision,
            number.non_geographic,
            number.time_zones,
            contact.address_region,
        )
        self.default_regions: tuple[str, ...] = ()
        self.blocked_cache: dict[int, list] = {}
        at = self.at
        contacts: list[HistoryEvent] = []
        contact_times: list[dt.datetime] = []
        events: dict[str, list[HistoryEvent]] = {}
        revocations: list[tuple[dt.datetime, str | None, str]] = []
        opt_ins: list[tuple[dt.datetime, str | None]] = []
        for event in state.history:
            kind, ts = event.kind, event.ts
            if kind == "contact":
                if ts < at:
                    contacts.append(event)
                    contact_times.append(ts)
                continue
            if ts > at:
                continue
            if kind in events:
                events[kind].append(event)
            else:
                events[kind] = [event]
            if kind == "opt_out":
                revocations.append((ts, event.channel, "opt-out"))
            elif kind == "opt_in":
                opt_ins.append((ts, event.channel))
            elif kind == "reply" and event.text:
                label = classify_reply(event.text, number.region)
                if label == "opt_out":
                    revocations.append((ts, "sms", "opt-out reply"))
                elif label == "opt_in":
                    opt_ins.append((ts, "sms"))
        for consent in state.consents:
            if consent.revoked_at is not None and consent.revoked_at <= at:
                scope = None if consent.channel == "any" else consent.channel
                revocations.append((consent.revoked_at, scope, "consent revoked"))
        self.contacts = contacts
        self.contact_times = contact_times
        self.events = events
        self.revocations = revocations
        self.opt_ins = opt_ins
        active: dict[str, str] = {}
        last_add: dt.datetime | None = None
        for entry in state.dnc:
            if entry.added_at > at:
                continue
            if entry.action == "add":
                # a later add never weakens an earlier one: do_not_contact (everything)
                # outranks not_interested (marketing only) until a removal clears the scope
                if active.get(entry.scope) != "do_not_contact":
                    active[entry.scope] = entry.category
                last_add = entry.added_at if last_add is None else max(last_add, entry.added_at)
            elif entry.scope == "all":
                active.clear()
            else:
                active.pop(entry.scope, None)
        self.dnc_active = active
        self.last_dnc_add = last_add
        preference = state.preference
        self.present = (
            (_PAST_CONTACTS | _HISTORY if contacts else 0)
            | (_HISTORY if events else 0)
            | (_REVOCATIONS if revocations else 0)
            | (_DNC if active else 0)
            | (_BLOCKED if world.blocked_periods else 0)
            | (_PREFERENCE if preference is not None and preference.updated_at <= at else 0)
        )

    # ------------------------------------------------------------------ shared questions
    def latest_revocation(self, channel: str | None) -> tuple[dt.datetime, str] | None:
        """Latest revocation covering ``channel`` (``None``: any channel)."""
        best: tuple[dt.datetime, str] | None = None
        for ts, scope, what in self.revocations:
            if channel is not None and scope not in (None, "any", channel):
                continue
            if best is None or ts > best[0]:
                best = (ts, what)
        return best

    def latest_opt_out(self) -> tuple[dt.datetime, str] | None:
        """The number's latest opt-out request (an opt-out event or an opt-out reply, on any
        channel; not a revoked consent record) and what it was."""
        best: tuple[dt.datetime, str] | None = None
        for ts, _scope, what in self.revocations:
            if what != "consent revoked" and (best is None or ts > best[0]):
                best = (ts, what)
        return best

    def relationship_cutoff(self) -> dt.datetime | None:
        """An internal-DNC request or an opt-out ends business relationships before it."""
        latest = self.latest_revocation(None)
        candidates = [ts for ts in (self.last_dnc_add, latest[0] if latest else None) if ts]
        return max(candidates) if candidates else None

    def valid_consents(
        self,
        channel: str,
        purpose: str,
        types: Iterable[str],
        *,
        require_confirmed: bool = False,
        require_evidence: bool = False,
        after: dt.datetime | None = None,
    ) -> list[Consent]:
        """Consents in force at ``at`` for the channel and purpose, of one of ``types``.

        Opt-outs are not applied here: they fire their own ``CONSENT_REVOKED`` reason
        (revocation rules), so a revoked contact is not also reported ``NO_CONSENT``.
        """
        at = self.at
        wanted = frozenset(types)  # no copy of a frozenset
        found = []
        for consent in self.state.consents:
            if consent.type not in wanted or consent.purpose != purpose:
                continue
            if consent.channel not in ("any", channel) or consent.granted_at > at:
                continue
            if consent.revoked_at is not None and consent.revoked_at <= at:
                continue
            if after is not None and consent.granted_at <= after:
                continue
            if require_confirmed and (consent.confirmed_at is None or consent.confirmed_at > at):
                continue
            if require_evidence and not consent.evidence:
                continue
            found.append(consent)
        return found

    def has_outside_hours_consent(self) -> bool:
        return any(
            consent.outside_hours
            for consent in self.valid_consents(
                self.contact.channel, self.contact.purpose, _OUTSIDE_HOURS_TYPES
            )
        )

    def contract_in_force(self) -> bool:
        starts = self.events.get("contract_start", [])
        if not starts:
            return False
        last_start = max(event.ts for event in starts)
        ends = [event.ts for event in self.events.get("contract_end", []) if event.ts >= last_start]
        return not ends

    def event_within(
        self, kinds: Iterable[str], duration: tuple[int, dt.timedelta], after: dt.datetime | None
    ) -> dt.datetime | None:
        """Latest event of ``kinds`` whose window ``[ts, ts + duration)`` still holds ``at``
        (calendar months on the recipient's clock, ending at the earliest zone: ``_span_end``)."""
        best = None
        for kind in kinds:
            for event in self.events.get(kind, ()):
                if after is not None and event.ts <= after:
                    continue
                end = _span_end(event.ts, duration, self.zones)
                if self.at < end and (best is None or event.ts > best):
                    best = event.ts
        return best
