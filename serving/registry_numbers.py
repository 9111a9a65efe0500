"""E.164 of registry numbers in bulk, with the validity decision of ``features.phone``.

A registry file holds millions of one-off numbers, and a registry only needs a number's
E.164 and whether it is valid — not its time zones, line type or subdivision, which cost
about half of :func:`features.phone.normalize`. :func:`e164_batch` makes exactly the same
checks as ``normalize`` in the same order (strip, parse, possible, valid), which a test
compares on a mix of inputs, and imports nothing but ``phonenumbers`` so that worker
processes stay small (~15 MB instead of ~200 MB with the geocoding data and pandas).
Rejection *reasons* come from ``normalize`` itself, in the parent process.
"""

from __future__ import annotations

from collections.abc import Sequence

import phonenumbers as pn


def valid_e164(raw: str | None, default_region: str | None = None) -> str | None:
    """The E.164 form when ``normalize(raw, default_region).valid``, else None."""
    text = (raw or "").strip()
    if not text:
        return None
    try:
        number = pn.parse(text, default_region)
    except pn.NumberParseException:
        return None
    if not pn.is_possible_number(number) or not pn.is_valid_number(number):
        return None
    return pn.format_number(number, pn.PhoneNumberFormat.E164)


def e164_batch(raws: Sequence[str], default_region: str | None = None) -> list[str | None]:
    """:func:`valid_e164` of each raw number (module-level: a process pool can run it)."""
    return [valid_e164(raw, default_region) for raw in raws]
