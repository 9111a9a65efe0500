"""Numbers of written records, read with a request's ``default_region``.

The store normalises every number it is given (E.164 is its hash input) but has no region
to read a national format with. A request's ``default_region`` turns such numbers into
E.164 before the store sees them; a number that does not parse even so is left as given,
and the store refuses that item by its index, as without the field.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def with_default_region(items: Sequence[Any], default_region: str | None) -> list[Any]:
    """``items`` (dicts with a ``number``) with national-format numbers as E.164."""
    if not default_region:
        return list(items)
    from features.phone import normalize

    out: list[Any] = []
    for item in items:
        number = item.get("number") if isinstance(item, dict) else None
        if isinstance(number, str) and number and not number.startswith("+"):
            record = normalize(number, default_region)
            if record.valid and record.e164:
                item = {**item, "number": record.e164}
        out.append(item)
    return out
