"""Numbers without a usable local time (toll-free) and regions without a rule pack
(Guernsey, Jersey, Isle of Man), beyond the cases in test_us / test_international.

docs/rules.md, rule 3 of "How the rules are applied": toll-free / non-geographic numbers → ``UNKNOWN_TIMEZONE`` [P] for
every marketing contact, unless a known address region gives the zones; convention 9:
GG / JE / IM → ``NO_RULE_PACK``, for every purpose and channel, also when only the address
is there. Every number is a libphonenumber example number or a fictional 555-01xx one.
"""

from __future__ import annotations

import datetime as dt

import pytest

from features.phone import normalize
from serving.domain.state import NumberState
from serving.rules import zones_for_region
from tests.support.rules import calls, check, consent, local, pairs, utc

SECOND = dt.timedelta(seconds=1)
NOON_UTC = "2026-06-16T12:00:00Z"  # a Tuesday

# ---------------------------------------------------------------- toll-free
# (number, region, legal reasons a marketing SMS also fires without consent)
TOLL_FREE = [
    ("+18885550123", "US", {("NO_CONSENT", "US")}),  # fictional 555-01xx, 888
    ("+18775550123", "US", {("NO_CONSENT", "US")}),  # fictional 555-01xx, 877
    ("+18002123456", "US", {("NO_CONSENT", "US")}),  # CA example: NANP toll-free is shared
    ("+611800123456", "AU", {("NO_CONSENT", "AU")}),  # AU example
    ("+498001234567", "DE", {("NO_CONSENT", "DE")}),  # DE toll-free
    ("+868001234567", "CN", {("NO_CONSENT", "CN")}),  # CN example
    ("+448007354567", "GB", {("NO_CONSENT", "GB")}),  # JE's example, which +44 gives to GB
]


@pytest.mark.parametrize(("number", "region", "sms_legal"), TOLL_FREE)
def test_toll_free_marketing_is_unknown_timezone_on_both_channels(
    number: str, region: str, sms_legal: set[tuple[str, str]]
) -> None:
    record = normalize(number)
    assert record.valid and record.region == region and record.non_geographic
    call = check(number, NOON_UTC)
    assert ("UNKNOWN_TIMEZONE", "POLICY") in pairs(call)
    assert call.next_allowed_at is None  # waiting does not tell us the local time
    assert call.time_zones == ()
    reason = next(r for r in call.reasons if r.code == "UNKNOWN_TIMEZONE")
    assert (reason.rule_id, reason.legal, reason.until) == ("POLICY/unknown-timezone", False, None)
    sms = check(number, NOON_UTC, "sms")
    assert pairs(sms) == {("UNKNOWN_TIMEZONE", "POLICY")} | sms_legal
    # with consent, the SMS is still withheld: the night rule cannot be checked
    consented = NumberState(consents=(consent(number, "written", evidence="form"),))
    assert pairs(check(number, NOON_UTC, "sms", consented)) == {("UNKNOWN_TIMEZONE", "POLICY")}


@pytest.mark.parametrize("number", ["+18885550123", "+611800123456", "+448007354567"])
def test_toll_free_service_contacts_need_no_local_time(number: str) -> None:
    for channel in ("call", "sms"):
        result = check(number, NOON_UTC, channel, purpose="service")
        assert "UNKNOWN_TIMEZONE" not in result.codes, channel


def test_toll_free_is_unknown_timezone_every_hour_of_the_day() -> None:
    """No hour is "safe": the reason is not a window (it never clears by waiting)."""
    for hour in range(24):
        at = utc("2026-06-16T00:00:00Z") + dt.timedelta(hours=hour)
        assert pairs(check("+18885550123", at)) == {("UNKNOWN_TIMEZONE", "POLICY")}, hour


def test_toll_free_with_a_florida_address_follows_florida_in_both_its_zones() -> None:
    """The address gives the zones (Florida: Eastern and the Central panhandle) and the
    state pack: 08:00-20:00 in both, so 08:00 CDT (13:00Z) to 20:00 EDT (00:00Z)."""
    number = "+18885550123"
    assert set(zones_for_region("US-FL")) == {"America/New_York", "America/Chicago"}
    opens = local("America/Chicago", "2026-06-16 08:00")
    closes = local("America/New_York", "2026-06-16 20:00")
    assert pairs(check(number, opens - SECOND, address_region="US-FL")) == {
        ("QUIET_HOURS", "US"),
        ("QUIET_HOURS", "US-FL"),
    }
    assert check(number, opens, address_region="US-FL").allowed
    assert check(number, closes - SECOND, address_region="US-FL").allowed
    late = check(number, closes, address_region="US-FL")
    assert pairs(late) == {("QUIET_HOURS", "US-FL")}
    assert late.next_allowed_at == opens + dt.timedelta(days=1)
    assert "US-FL" in late.jurisdictions


def test_toll_free_with_a_canadian_address_follows_canada_and_the_us() -> None:
    """NANP toll-free numbers are US numbers to libphonenumber; an Ontario address adds the
    CRTC pack and Ontario's zones (Toronto and the Central north-west)."""
    number = "+18002123456"
    zones = zones_for_region("CA-ON")
    assert "America/Toronto" in zones and len(zones) >= 2
    # Saturday: CRTC 10:00-18:00 in every Ontario zone
    opens = max(local(zone, "2026-06-20 10:00") for zone in zones)
    closes = min(local(zone, "2026-06-20 18:00") for zone in zones)
    assert ("QUIET_HOURS", "CA") in pairs(check(number, opens - SECOND, address_region="CA-ON"))
    assert check(number, opens, address_region="CA-ON").allowed
    assert check(number, closes - SECOND, address_region="CA-ON").allowed
    assert pairs(check(number, closes, address_region="CA-ON")) == {("QUIET_HOURS", "CA")}
    listed = NumberState(registries=frozenset({"CA_DNCL", "US_NATIONAL_DNC"}))
    assert pairs(check(number, opens, state=listed, address_region="CA-ON")) == {
        ("REGISTRY_LISTED", "CA"),
        ("REGISTRY_LISTED", "US"),
    }


def test_toll_free_with_an_australian_address_uses_every_australian_zone() -> None:
    number = "+611800123456"
    zones = zones_for_region("AU")
    assert {"Australia/Perth", "Australia/Sydney", "Australia/Lord_Howe"} <= set(zones)
    opens = max(local(zone, "2026-06-16 09:00") for zone in zones)
    closes = min(local(zone, "2026-06-16 20:00") for zone in zones)
    assert pairs(check(number, opens - SECOND, address_region="AU")) == {("QUIET_HOURS", "AU")}
    assert check(number, opens, address_region="AU").allowed
    assert check(number, closes - SECOND, address_region="AU").allowed
    assert pairs(check(number, closes, address_region="AU")) == {("QUIET_HOURS", "AU")}


# ---------------------------------------------------------------- Crown Dependencies
CROWN = [
    ("+441481256789", "GG"),  # Guernsey fixed line (libphonenumber example)
    ("+447781123456", "GG"),  # Guernsey mobile (example)
    ("+441534456789", "JE"),  # Jersey fixed line (example)
    ("+447797712345", "JE"),  # Jersey mobile (example)
    ("+441624756789", "IM"),  # Isle of Man fixed line (example)
]


@pytest.mark.parametrize(("number", "region"), CROWN)
def test_crown_dependency_numbers_withhold_every_contact(number: str, region: str) -> None:
    assert normalize(number).region == region
    for channel in ("call", "sms"):
        for purpose in ("marketing", "service"):
            result = check(number, NOON_UTC, channel, purpose=purpose)
            assert pairs(result) == {("NO_RULE_PACK", region)}, (channel, purpose)
            reason = result.reasons[0]
            assert (reason.rule_id, reason.legal, reason.until) == (
                "NO_RULE_PACK/unsupported-region",
                False,
                None,
            )
            assert result.next_allowed_at is None
            assert "GB" not in result.jurisdictions  # PECR does not reach them


@pytest.mark.parametrize(("number", "region"), CROWN)
def test_consent_or_a_gb_address_does_not_give_a_crown_dependency_a_pack(
    number: str, region: str
) -> None:
    consented = NumberState(consents=(consent(number, "written", evidence="form"),))
    result = check(number, NOON_UTC, state=consented, address_region="GB")
    assert ("NO_RULE_PACK", region) in pairs(result)
    assert result.next_allowed_at is None


@pytest.mark.parametrize("address", ["JE", "GG", "IM"])
def test_a_gb_number_with_a_crown_dependency_address_has_no_rule_pack(address: str) -> None:
    """The address may put the person outside PECR: NO_RULE_PACK, reported for the
    address's region (not for GB, whose pack does apply and passes here)."""
    result = check("+447400123456", NOON_UTC, address_region=address)
    assert pairs(result) == {("NO_RULE_PACK", address)}
    assert f"no rule pack for {address}" in result.reasons[0].detail
    assert "GB" in result.jurisdictions


def test_no_rule_pack_is_returned_with_the_other_reasons_and_blocks_next_allowed() -> None:
    """A time-based POLICY ceiling fires too; NO_RULE_PACK is permanent, so no
    next_allowed_at."""
    number = "+441534456789"
    at = utc(NOON_UTC)
    history = calls(*((at - dt.timedelta(hours=h)).isoformat() for h in (3, 2, 1)))
    result = check(number, at, state=NumberState(history=history))
    assert pairs(result) == {("NO_RULE_PACK", "JE"), ("FREQUENCY_CAP", "POLICY")}
    assert result.next_allowed_at is None
    suppressed = check(number, at, state=NumberState(suppressed=True))
    assert pairs(suppressed) == {("NO_RULE_PACK", "JE"), ("SUPPRESSED", "POLICY")}
