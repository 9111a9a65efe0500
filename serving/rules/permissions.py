"""Rules on whether the person may be contacted at all: do-not-call registries, consent,
revocations, the internal DNC list, the person's own preferences, the one confirmation of
an opt-out, and regions without rules."""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from serving.domain.reasons import Reason, iso_utc
from serving.rules import schema as pack_schema
from serving.rules.clock import _at_local, _hh_mm, _local_minutes, _next_pass_everywhere
from serving.rules.facts import _DNC, _PREFERENCE, _REVOCATIONS, _Facts
from serving.rules.rule import _NO_REASONS, _RESOLUTION, _Rule
from serving.rules.schema import clock_minutes, parse_duration

if TYPE_CHECKING:
    from serving.rules.rulebook import _Pack

#: Consents that clear an earlier revocation.
_CLEARING_TYPES = frozenset({"express", "written", "soft_opt_in", "implied"})


class _RegistryRule(_Rule):
    """A do-not-call registry with a maximum snapshot age and explicit exemptions."""

    kind = "registry"
    codes = frozenset({"REGISTRY_STALE", "REGISTRY_LISTED"})

    def __init__(self, spec: pack_schema.RegistryRule, pack: _Pack) -> None:
        super().__init__(spec, pack)
        self.registry = spec.registry
        self.max_age = parse_duration(spec.max_age)[1]
        self.max_age_text = spec.max_age
        exemptions = spec.exemptions
        self.ebr_purchase = (
            parse_duration(exemptions.ebr_purchase) if exemptions.ebr_purchase else None
        )
        self.ebr_inquiry = (
            parse_duration(exemptions.ebr_inquiry) if exemptions.ebr_inquiry else None
        )
        self.contract_in_force = exemptions.contract_in_force
        self.consent_types = frozenset(exemptions.consent_types)
        self.consent_after_snapshot = exemptions.consent_after_snapshot

    def _exemption(self, facts: _Facts) -> str | None:
        contact = facts.contact
        cutoff = facts.relationship_cutoff()
        if self.ebr_purchase and facts.event_within(
            ("purchase", "contract_start"), self.ebr_purchase, cutoff
        ):
            return "EBR (purchase)"
        if self.ebr_inquiry and facts.event_within(("inquiry",), self.ebr_inquiry, cutoff):
            return "EBR (inquiry)"
        if self.contract_in_force and facts.contract_in_force():
            return "contract in force"
        if self.consent_types and facts.valid_consents(
            contact.channel,
            contact.purpose,
            self.consent_types,
            # a listing cancels earlier consents: only those after the snapshot count
            after=facts.world.registry_snapshots.get(self.registry)
            if self.consent_after_snapshot
            else None,
        ):
            return "consent"
        return None

    def check(self, facts: _Facts, instant: dt.datetime) -> Sequence[Reason]:
        reasons: list[Reason] = []
        snapshot_at = facts.world.registry_snapshots.get(self.registry)
        if snapshot_at is None:
            detail = f"no {self.registry} snapshot loaded (must be at most {self.max_age_text} old)"
            reasons.append(self.reason("REGISTRY_STALE", detail))
        elif facts.at - snapshot_at > self.max_age:
            detail = f"{self.registry} snapshot of {iso_utc(snapshot_at)} is older than {self.max_age_text}"
            reasons.append(self.reason("REGISTRY_STALE", detail))
        if self.registry in facts.state.registries and self._exemption(facts) is None:
            reasons.append(self.reason("REGISTRY_LISTED", f"listed on {self.registry}"))
        return reasons


class _ConsentRule(_Rule):
    """Contacts this rule governs need consent of an accepted type (or an exemption)."""

    kind = "consent"
    codes = frozenset({"NO_CONSENT"})

    def __init__(self, spec: pack_schema.ConsentRule, pack: _Pack) -> None:
        super().__init__(spec, pack)
        self.enabled = spec.enabled
        self.types = tuple(spec.accepted_types)
        self.type_set = frozenset(self.types)
        self.require_confirmed = spec.require_confirmed
        self.require_evidence = spec.require_evidence
        self.implied = {kind: parse_duration(value) for kind, value in spec.implied_from.items()}
        self.exempt_contract = spec.exempt_contract_in_force

    def check(self, facts: _Facts, instant: dt.datetime) -> Sequence[Reason]:
        contact = facts.contact
        if facts.valid_consents(
            contact.channel,
            contact.purpose,
            self.type_set,
            require_confirmed=self.require_confirmed,
            require_evidence=self.require_evidence,
        ):
            return _NO_REASONS
        if self.implied:
            cutoff = facts.relationship_cutoff()
            for kind, duration in self.implied.items():
                if facts.event_within((kind,), duration, cutoff):
                    return _NO_REASONS
        if self.exempt_contract and facts.contract_in_force():
            return _NO_REASONS
        needed = "/".join(self.types)
        extra = ", double opt-in confirmed" if self.require_confirmed else ""
        extra += ", documented" if self.require_evidence else ""
        mode = f" {contact.dial_mode}" if contact.channel == "call" else ""
        detail = f"{contact.purpose}{mode} {contact.channel} needs {needed} consent{extra}"
        return (self.reason("NO_CONSENT", detail),)


class _RevocationRule(_Rule):
    """A revocation (opt-out event, opt-out reply, revoked consent) withholds."""

    kind = "revocation"
    codes = frozenset({"CONSENT_REVOKED"})
    needs = _REVOCATIONS

    def __init__(self, spec: pack_schema.RevocationRule, pack: _Pack) -> None:
        super().__init__(spec, pack)
        self.all_channels = spec.all_channels
        self.cleared_by = spec.cleared_by

    def check(self, facts: _Facts, instant: dt.datetime) -> Sequence[Reason]:
        contact = facts.contact
        latest = facts.latest_revocation(None if self.all_channels else contact.channel)
        if latest is None:
            return _NO_REASONS
        revoked_at, what = latest
        if self.cleared_by == "opt_in":
            if any(
                ts > revoked_at and scope in (None, "any", contact.channel)
                for ts, scope in facts.opt_ins
            ):
                return _NO_REASONS
        elif facts.valid_consents(
            contact.channel,
            contact.purpose,
            _CLEARING_TYPES,
            after=revoked_at,
        ):
            return _NO_REASONS
        scope = "every channel" if self.all_channels else contact.channel
        detail = f"{what} at {iso_utc(revoked_at)} withholds {contact.purpose} on {scope}"
        return (self.reason("CONSENT_REVOKED", detail),)


class _InternalDncRule(_Rule):
    """The internal do-not-call list: adds and removals in order, by scope and category."""

    kind = "internal_dnc"
    codes = frozenset({"INTERNAL_DNC"})
    needs = _DNC

    def check(self, facts: _Facts, instant: dt.datetime) -> Sequence[Reason]:
        contact = facts.contact
        for scope in ("all", contact.channel):
            category = facts.dnc_active.get(scope)
            if category is None:
                continue
            if category == "not_interested" and contact.purpose != "marketing":
                continue
            detail = f"on the internal DNC list (scope {scope}, {category})"
            return (self.reason("INTERNAL_DNC", detail),)
        return _NO_REASONS


class _PreferenceRule(_Rule):
    """The person's own preferences, honoured as company policy (``PREFERENCE``)."""

    needs_local_time = False  # quiet hours are skipped, not guessed, without a zone
    kind = "preference"
    codes = frozenset({"PREFERENCE"})
    needs = _PREFERENCE

    def check(self, facts: _Facts, instant: dt.datetime) -> Sequence[Reason]:
        preference = facts.state.preference
        if preference is None or preference.updated_at > facts.at:
            return _NO_REASONS
        contact = facts.contact
        reasons: list[Reason] = []
        if preference.channels is not None:
            allowed = preference.channels.split("|")
            if contact.channel not in allowed:
                detail = f"asked for {'/'.join(allowed)} only"
                reasons.append(self.reason("PREFERENCE", detail))
        if preference.urgent_only and contact.purpose == "marketing":
            reasons.append(self.reason("PREFERENCE", "asked for urgent (service) contacts only"))
        if preference.max_per_week is not None:
            week = dt.timedelta(days=7)
            start = bisect.bisect_left(facts.contact_times, instant - week)
            recent = facts.contact_times[start:]
            if len(recent) >= preference.max_per_week:
                index = len(recent) - preference.max_per_week
                # max_per_week 0: never (no contact ever leaves the window for it)
                until = recent[index] + week + _RESOLUTION if index < len(recent) else None
                detail = f"{len(recent)} contact(s) in 7 days, asked for at most {preference.max_per_week}"
                reasons.append(self.reason("PREFERENCE", detail, until))
        if preference.quiet_start is not None and preference.quiet_end is not None and facts.zones:
            quiet_start = clock_minutes(preference.quiet_start)
            quiet_end = clock_minutes(preference.quiet_end)

            def in_quiet(minutes: float) -> bool:
                if quiet_start <= quiet_end:
                    return quiet_start <= minutes < quiet_end
                return minutes >= quiet_start or minutes < quiet_end

            def quiet_over(zone: ZoneInfo, moment: dt.datetime) -> dt.datetime | None:
                local = moment.astimezone(zone)
                if not in_quiet(_local_minutes(local)):
                    return moment
                day = local.date()
                if quiet_start > quiet_end and _local_minutes(local) >= quiet_start:
                    day += dt.timedelta(days=1)
                return _at_local(day, quiet_end, zone, moment)

            for name, zone in zip(facts.zone_names, facts.zones, strict=True):
                local = instant.astimezone(zone)
                if in_quiet(_local_minutes(local)):
                    limit = instant + dt.timedelta(days=2)
                    until = _next_pass_everywhere(facts.zones, instant, quiet_over, limit)
                    detail = (
                        f"{_hh_mm(local)} local ({name}) is in the person's quiet hours "
                        f"{preference.quiet_start}-{preference.quiet_end}"
                    )
                    reasons.append(self.reason("PREFERENCE", detail, until))
                    break
        return reasons


class _OptOutConfirmationRule(_Rule):
    """The one text confirming an opt-out: by an allowed channel, within ``within`` of the
    latest opt-out, once per opt-out (schema.OptOutConfirmationRule)."""

    kind = "opt_out_confirmation"
    codes = frozenset({"CONFIRMATION_NOT_ALLOWED", "CONFIRMATION_ALREADY_SENT"})

    def __init__(self, spec: pack_schema.OptOutConfirmationRule, pack: _Pack) -> None:
        super().__init__(spec, pack)
        self.within = parse_duration(spec.within)[1]
        self.within_text = spec.within
        self.via = frozenset(spec.via)

    def check(self, facts: _Facts, instant: dt.datetime) -> Sequence[Reason]:
        contact = facts.contact
        if contact.channel not in self.via:
            detail = f"an opt-out is confirmed by {'/'.join(sorted(self.via))} only, not by {contact.channel}"
            return (self.reason("CONFIRMATION_NOT_ALLOWED", detail),)
        latest = facts.latest_opt_out()
        if latest is None:
            return (self.reason("CONFIRMATION_NOT_ALLOWED", "no opt-out to confirm"),)
        opted_out_at, what = latest
        since = iso_utc(opted_out_at)
        cleared = [ts for ts, _scope in facts.opt_ins if ts > opted_out_at]
        if cleared:
            detail = f"the {what} at {since} was followed by an opt-in at {iso_utc(min(cleared))}"
            return (self.reason("CONFIRMATION_NOT_ALLOWED", detail),)
        if instant >= opted_out_at + self.within:
            due = iso_utc(opted_out_at + self.within)
            detail = f"{what} at {since}: its one confirmation was due before {due}"
            return (self.reason("CONFIRMATION_NOT_ALLOWED", detail),)
        # from one second before the opt-out: ``authorize`` counts an attempt recorded for a
        # later instant as made just before the dial, which may be the opt-out's own instant
        counted_from = opted_out_at - _RESOLUTION
        sent = [
            event.ts
            for event in facts.contacts
            if event.purpose == "opt_out_confirmation" and counted_from <= event.ts < instant
        ]
        if sent:
            detail = f"the {what} at {since} was confirmed at {iso_utc(sent[-1])} already"
            return (self.reason("CONFIRMATION_ALREADY_SENT", detail),)
        return _NO_REASONS


class _NoRulePackRule(_Rule):
    """A region we hold no rules for: withhold everything."""

    kind = "no_rule_pack"
    codes = frozenset({"NO_RULE_PACK"})

    def check(self, facts: _Facts, instant: dt.datetime) -> Sequence[Reason]:
        # the region this pack was chosen for: the number's, or the address's country (a
        # GB number of someone living in Jersey is reported as JE, not GB)
        uncovered = [code for code in facts.country_codes if code in self.pack.regions]
        region = uncovered[0] if uncovered else facts.region or "unknown region"
        detail = f"no rule pack for {region}"
        if region != facts.region:
            detail += f" (address region; the number is {facts.region})"
        return (Reason("NO_RULE_PACK", region, self.rule_id, False, detail),)
