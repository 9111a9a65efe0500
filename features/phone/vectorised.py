"""Many numbers at once: :func:`normalize_many` and :func:`regions_of`.

``normalize`` costs ~120 µs a number (parse + validate + type + zones in pure Python), i.e.
two minutes for a million. ``normalize_many`` reproduces the same steps for E.164-like input
("+" then 4-17 digits, optionally spaced with " -.()") column-wise, calling code by calling
code: parse()'s national-prefix cut ("+44 (0)20 ..."), the possible-length test, region choice
for shared codes (+1, +44, ...), the line-type tests in phonenumbers' order, and the time-zone
lookups. libphonenumber's own metadata regexes run through pyarrow.compute (RE2; they are
RE2-compatible, and anchored here exactly as phonenumbers' match / fullmatch use them); lengths
and zones go through numpy lookup tables. Whatever takes a branch of phonenumbers we do not
mirror (national formats, letters, extensions, "00" prefixes, national-prefix transform rules,
unknown codes with a default region) goes through ``normalize`` itself. Every row is thus
exact by construction; tests/features/phone/test_phone.py compares the two row by row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields

import numpy as np
import pandas as pd
import phonenumbers as pn
import pyarrow as pa
import pyarrow.compute as pc

from features.phone._country import (
    _ZONE_LISTS,
    _country_plan,
    _CountryNumbers,
    _known_country_codes,
    _zone_id,
    _zone_objects,
)
from features.phone.e164 import _PARSE_REASONS
from features.phone.scalar import (
    ZONE_CORRECTIONS,
    NumberRecord,
    normalize,
    with_zone_corrections,
)

#: Column order of :func:`normalize_many` — exactly the :class:`NumberRecord` fields.
RECORD_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(NumberRecord))
#: ``object`` keeps ``None`` as ``None`` (pandas 3's ``str`` dtype would turn it into NaN).
_COLUMN_DTYPES = {
    name: ("bool" if name in ("valid", "non_geographic") else "object") for name in RECORD_COLUMNS
}
#: Input the fast path takes: optional spaces, one "+", then digits and " -.()" only. Each of
#: these is punctuation ``phonenumbers.parse`` ignores; anything else goes to ``normalize``.
_E164_LIKE = r"^ *\+[0-9 .()\-]*$"
_FAST_DIGITS = (4, 17)  # 4: "+" and 3 digits is the shortest viable input; 17 fits int64
_MAX_INPUT_LENGTH = 250  # phonenumberutil._MAX_INPUT_STRING_LENGTH: longer input is "too long"


def normalize_many(
    raws: Sequence[str | None] | np.ndarray | pd.Series, default_region: str | None = None
) -> pd.DataFrame:
    """Normalise many numbers at once; row ``i`` equals ``normalize(raws[i], default_region)``.

    Returns one row per input, index ``0..n-1``, columns :data:`RECORD_COLUMNS` (``None`` stays
    ``None``; ``time_zones`` holds shared tuple objects). Duplicates are normalised once. The
    per-number cache of :func:`normalize` is not filled: millions of one-off numbers would pin
    memory in it.
    """
    values = _as_object_array(raws)
    if pd.api.types.infer_dtype(values, skipna=False) == "string":  # the usual case: all str
        encoded = pa.array(values, type=pa.large_string()).dictionary_encode()
        codes = encoded.indices.to_numpy()
        text, is_text = encoded.dictionary, np.ones(len(encoded.dictionary), dtype=bool)
        distinct = None  # the strings of ``text`` themselves
    else:  # None / NaN / numbers mixed in: only the str values can take the fast path
        codes, distinct = pd.factorize(values, use_na_sentinel=False)
        is_text = np.fromiter(
            (isinstance(v, str) for v in distinct), dtype=bool, count=len(distinct)
        )
        text = pa.array(np.where(is_text, distinct, ""), type=pa.large_string())
    columns = _normalize_distinct(text, is_text, distinct, default_region)
    if len(text) == len(values) and np.array_equal(codes, np.arange(len(values))):
        codes = slice(None)  # all distinct, first-seen order: no need to copy every column
    frame = pd.DataFrame(
        {
            name: pd.Series(columns[name][codes], dtype=_COLUMN_DTYPES[name], copy=False)
            for name in RECORD_COLUMNS
            if name != "raw"
        }
    )
    frame.insert(0, "raw", pd.Series(values, dtype=object, copy=False))
    for prefix in ZONE_CORRECTIONS:
        # as normalize does: valid numbers only
        hit = frame["e164"].str.startswith(prefix, na=False).to_numpy(dtype=bool) & frame[
            "valid"
        ].to_numpy(dtype=bool)
        if hit.any():
            rows = frame.index[hit]
            corrected = [
                with_zone_corrections(e, z)
                for e, z in zip(frame.loc[rows, "e164"], frame.loc[rows, "time_zones"], strict=True)
            ]
            frame.loc[rows, "time_zones"] = pd.Series(corrected, index=rows, dtype=object)
    return frame


def _as_object_array(raws: Sequence[str | None] | np.ndarray | pd.Series) -> np.ndarray:
    if isinstance(raws, pd.Series):
        raws = raws.to_numpy(dtype=object)
    if isinstance(raws, np.ndarray) and raws.dtype == object:
        return raws.reshape(-1)
    out = np.empty(len(raws), dtype=object)
    out[:] = list(raws)
    return out


def _normalize_distinct(
    text: pa.Array, is_text: np.ndarray, distinct: np.ndarray | None, default_region: str | None
) -> dict[str, np.ndarray]:
    """Column arrays, one entry per distinct input, for every field but ``raw``.

    ``text`` holds each distinct input as a string ("" where ``is_text`` is False);
    ``distinct`` holds the inputs themselves (None: they are ``text``'s strings), for the rows
    ``normalize`` has to do.
    """
    count = len(text)
    e164_like = (
        is_text
        & (pc.utf8_length(text).to_numpy() <= _MAX_INPUT_LENGTH)
        & pc.match_substring_regex(text, _E164_LIKE).to_numpy(zero_copy_only=False)
    )
    candidate_rows = np.flatnonzero(e164_like)
    digits = _digits_after_plus(text.filter(pa.array(e164_like)))
    n_digits = pc.utf8_length(digits).to_numpy()
    in_range = (n_digits >= _FAST_DIGITS[0]) & (n_digits <= _FAST_DIGITS[1])
    fast_rows = candidate_rows[in_range]
    columns = _empty_columns(count)
    zone_ids = np.full(count, _zone_id(()), dtype=np.int64)
    handled = _fill_fast(
        columns, zone_ids, fast_rows, digits.filter(pa.array(in_range)), default_region
    )
    columns["time_zones"] = _zone_objects()[zone_ids]
    slow = np.ones(count, dtype=bool)
    slow[fast_rows[handled]] = False
    for row in np.flatnonzero(slow):
        raw = distinct[row] if distinct is not None else text[int(row)].as_py()
        record = normalize.__wrapped__(raw, default_region)
        for name in RECORD_COLUMNS[1:]:
            columns[name][row] = getattr(record, name)
        columns["time_zones"][row] = _ZONE_LISTS[_zone_id(record.time_zones)]
    return columns


def _digits_after_plus(e164_like: pa.Array) -> pa.Array:
    """The digits of strings matching ``_E164_LIKE``; cheap for the usual "+" + digits."""
    digits = pc.utf8_slice_codeunits(e164_like, 1)
    plain = pc.and_(pc.starts_with(e164_like, "+"), pc.ascii_is_decimal(digits))
    if pc.all(plain).as_py() is not False:
        return digits
    formatted = pc.invert(plain)
    cleaned = pc.replace_substring_regex(e164_like.filter(formatted), r"[^0-9]", "")
    return pc.replace_with_mask(digits, formatted, cleaned)


def _empty_columns(count: int) -> dict[str, np.ndarray]:
    columns = {name: np.full(count, None, dtype=object) for name in RECORD_COLUMNS[1:]}
    columns["valid"] = np.zeros(count, dtype=bool)
    columns["non_geographic"] = np.ones(count, dtype=bool)
    return columns


def _fill_fast(
    columns: dict[str, np.ndarray],
    zone_ids: np.ndarray,
    rows: np.ndarray,
    digits: pa.Array,
    default_region: str | None,
) -> np.ndarray:
    """Fill ``columns`` / ``zone_ids`` at ``rows`` from E.164 digit strings (no "+"), calling
    code by calling code; returns which of ``rows`` were handled (the rest go slow)."""
    handled = np.zeros(len(rows), dtype=bool)
    if not len(rows):
        return handled
    value = pc.cast(digits, pa.int64()).to_numpy()
    n_digits = pc.utf8_length(digits).to_numpy()
    country_code = _split_country_code(value, n_digits)
    country_code[pc.starts_with(digits, "0").to_numpy(zero_copy_only=False)] = 0  # no code
    order = np.argsort(country_code, kind="stable")
    bounds = np.flatnonzero(np.diff(country_code[order])) + 1
    for group in np.split(order, bounds):
        code = int(country_code[group[0]])
        if code == 0:
            # No known calling code after "+": parse() retries the digits as a national number
            # of the default region; with none, that ends in INVALID_COUNTRY_CODE.
            if default_region is None:
                columns["invalid_reason"][rows[group]] = _PARSE_REASONS[
                    pn.NumberParseException.INVALID_COUNTRY_CODE
                ]
                columns["line_type"][rows[group]] = "unknown"
                handled[group] = True
            continue
        plan = _country_plan(code)
        if plan is None:
            continue
        numbers = _CountryNumbers(
            rows=rows[group],
            nsn=pc.utf8_slice_codeunits(digits.take(pa.array(group)), start=len(str(code))),
            value=value[group],
            n_digits=n_digits[group],
            nsn_length=n_digits[group] - len(str(code)),
        )
        handled[group[plan.fill(columns, zone_ids, numbers)]] = True
    return handled


def _split_country_code(value: np.ndarray, n_digits: np.ndarray) -> np.ndarray:
    """The 1-3 digit calling code each number starts with (0 if none), shortest first as in
    ``phonenumberutil._extract_country_code`` (the codes are prefix-free anyway)."""
    country_code = np.zeros(len(value), dtype=np.int64)
    for width in (3, 2, 1):  # later (shorter) assignments win, matching "shortest first"
        prefix = value // (10 ** (n_digits - width))
        is_known = np.isin(prefix, _known_country_codes())
        country_code[is_known] = prefix[is_known]
    return country_code


def regions_of(numbers: Sequence[str | None] | np.ndarray | pd.Series | pa.Array) -> pa.Array:
    """ISO 3166-1 region of each number as :func:`normalize` gives it, ``"??"`` when it has
    none; a pyarrow string array in input order (through :func:`normalize_many`)."""
    if isinstance(numbers, pa.ChunkedArray | pa.Array):
        numbers = numbers.to_numpy(zero_copy_only=False)
    region = normalize_many(numbers)["region"].to_numpy(dtype=object)
    return pc.fill_null(pa.array(region, type=pa.string()), "??")
