"""The validity decision of a phone number, with ``phonenumbers`` alone.

:func:`checked` is the one place that decides whether a number is valid (strip, parse,
possible, valid — in that order) and why not; :func:`features.phone.normalize` builds its
records on it, and :func:`e164_batch` gives just the E.164 form of valid numbers for the
registry import. That import runs it in worker processes, which stay small (~15 MB instead
of ~200 MB) because this module imports nothing but ``phonenumbers``: no time zones,
geocoding data or pandas.
"""

from __future__ import annotations

from collections.abc import Sequence

import phonenumbers as pn

_PARSE_REASONS = {
    pn.NumberParseException.INVALID_COUNTRY_CODE: "unknown country code (use +CC or a default region)",
    pn.NumberParseException.NOT_A_NUMBER: "not a phone number",
    pn.NumberParseException.TOO_SHORT_AFTER_IDD: "too short",
    pn.NumberParseException.TOO_SHORT_NSN: "too short",
    pn.NumberParseException.TOO_LONG: "too long",
}
_POSSIBLE_REASONS = {
    pn.ValidationResult.TOO_SHORT: "too short",
    pn.ValidationResult.TOO_LONG: "too long",
    pn.ValidationResult.INVALID_LENGTH: "invalid length",
    pn.ValidationResult.INVALID_COUNTRY_CODE: "unknown country code",
}


def checked(
    raw: object, default_region: str | None = None
) -> tuple[pn.PhoneNumber | None, str | None, str | None]:
    """``(number, region, invalid_reason)`` of one input; valid when ``invalid_reason`` is None.

    ``number`` is the parsed number whenever the input parses (valid or not), ``region`` is
    known once the number has a possible length. National formats need ``default_region``;
    None / NaN count as empty.
    """
    text = raw.strip() if isinstance(raw, str) else ""
    if not text:
        return None, None, "empty"
    try:
        number = pn.parse(text, default_region)
    except pn.NumberParseException as exc:
        return None, None, _PARSE_REASONS.get(exc.error_type, "not a phone number")
    possible = pn.is_possible_number_with_reason(number)
    if possible not in (
        pn.ValidationResult.IS_POSSIBLE,
        pn.ValidationResult.IS_POSSIBLE_LOCAL_ONLY,
    ):
        return number, None, _POSSIBLE_REASONS.get(possible, "not a possible number")
    region = pn.region_code_for_number(number)
    # is_valid_number(number) is exactly this, with the region found once instead of twice
    if not pn.is_valid_number_for_region(number, region):
        return number, region, "not a valid number for its region"
    return number, region, None


def e164_of(number: pn.PhoneNumber) -> str:
    """The E.164 form of a parsed number."""
    return pn.format_number(number, pn.PhoneNumberFormat.E164)


def valid_e164(raw: str | None, default_region: str | None = None) -> str | None:
    """The E.164 form when ``normalize(raw, default_region).valid``, else None."""
    number, _region, reason = checked(raw, default_region)
    return e164_of(number) if reason is None and number is not None else None


def e164_batch(raws: Sequence[str], default_region: str | None = None) -> list[str | None]:
    """:func:`valid_e164` of each raw number (module-level: a process pool can run it)."""
    return [valid_e164(raw, default_region) for raw in raws]
