"""Phone normalisation on real libphonenumber data.

Expected values come from the worked examples of docs/rules.md and engine conventions, and from public
numbering facts (area 305 is Florida, 701 North Dakota, 416 Toronto; 800 is toll-free; +44 7781
is Guernsey). The vectorised ``normalize_many`` is then held to ``normalize`` row for row on
large seeded random samples and on Hypothesis-generated inputs.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import phonenumbers as pn
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE

from features.phone import (
    RECORD_COLUMNS,
    NumberRecord,
    area_code_subdivisions,
    normalize,
    normalize_many,
)

_normalize_uncached = normalize.__wrapped__
_TARGET_CODES = (1, 44, 33, 49, 61, 86)
_ALL_CODES = sorted(COUNTRY_CODE_TO_REGION_CODE)
_AU_MAINLAND = {
    "Australia/Adelaide", "Australia/Brisbane", "Australia/Eucla", "Australia/Lord_Howe",
    "Australia/Perth", "Australia/Sydney",
}  # fmt: skip


def _both(raw: str | None, default_region: str | None = None) -> list[NumberRecord]:
    """The record from ``normalize`` and the same row rebuilt from ``normalize_many``."""
    frame = normalize_many([raw], default_region)
    row = {c: frame[c].tolist()[0] for c in RECORD_COLUMNS}  # tolist: plain Python scalars
    return [normalize(raw, default_region), NumberRecord(**row)]


@pytest.mark.parametrize(
    ("raw", "region", "subdivision", "line_type", "zones"),
    [
        ("+13052134567", "US", "US-FL", "fixed_line_or_mobile", ("America/New_York",)),
        ("+1 305-213-4567", "US", "US-FL", "fixed_line_or_mobile", ("America/New_York",)),
        (
            "+17012014567",
            "US",
            "US-ND",
            "fixed_line_or_mobile",
            ("America/Denver", "America/North_Dakota/Center"),
        ),
        ("+18502014567", "US", "US-FL", "fixed_line_or_mobile", ("America/New_York",)),
        ("+18502004567", "US", "US-FL", "fixed_line_or_mobile", ("America/Chicago",)),
        (
            "+12082004567",
            "US",
            "US-ID",
            "fixed_line_or_mobile",
            ("America/Boise", "America/Los_Angeles"),
        ),
        (
            "+17092004567",
            "CA",
            "CA-NL",
            "fixed_line_or_mobile",
            ("America/Halifax", "America/St_Johns"),
        ),
        ("+14162345678", "CA", "CA-ON", "fixed_line_or_mobile", ("America/Toronto",)),
        ("+12122345678", "US", "US-NY", "fixed_line_or_mobile", ("America/New_York",)),
        ("+33612345678", "FR", None, "mobile", ("Europe/Paris",)),
        ("+4915112345678", "DE", None, "mobile", ("Europe/Berlin",)),
        ("+8613812345678", "CN", None, "mobile", ("Asia/Shanghai",)),
        ("+61291234567", "AU", None, "fixed_line", ("Australia/Sydney",)),
    ],
)
def test_geographic_numbers(
    raw: str, region: str, subdivision: str | None, line_type: str, zones: tuple[str, ...]
) -> None:
    for record in _both(raw):
        assert record.valid and record.invalid_reason is None
        assert record.e164 == "+" + "".join(ch for ch in raw if ch.isdigit())
        assert (record.region, record.subdivision, record.line_type) == (
            region,
            subdivision,
            line_type,
        )
        assert record.time_zones == zones
        assert record.non_geographic is False


def test_split_area_code_850_maps_by_exchange() -> None:
    """docs/rules.md, rule 2 of "How the rules are applied": +1 850 201 → New_York, +1 850 200 → Chicago."""
    east, central = normalize_many(["+18502014567", "+18502004567"]).time_zones
    assert east == ("America/New_York",) and central == ("America/Chicago",)


def test_toll_free_is_non_geographic_with_country_wide_zones() -> None:
    for record in _both("+18005551234"):
        assert record.valid and record.line_type == "toll_free"
        assert record.non_geographic is True
        assert record.subdivision is None
        # country-level zones of +1: from Hawaii to Newfoundland
        assert {"Pacific/Honolulu", "America/New_York", "America/St_Johns"} <= set(
            record.time_zones
        )


def test_guernsey_mobile_resolves_to_gg() -> None:
    for record in _both("+447781123456"):
        assert record.valid and record.region == "GG" and record.line_type == "mobile"
        assert "Europe/Guernsey" in record.time_zones


def test_australian_mobile_has_eight_zones() -> None:
    for record in _both("+61412345678"):
        assert record.valid and record.line_type == "mobile" and record.region == "AU"
        assert len(record.time_zones) == 8
        assert _AU_MAINLAND | {"Indian/Christmas", "Indian/Cocos"} == set(record.time_zones)


def test_western_australian_fixed_line() -> None:
    for record in _both("+61891234567"):
        assert record.valid and record.line_type == "fixed_line" and record.region == "AU"
        assert "Australia/Perth" in record.time_zones
        assert "Australia/Sydney" not in record.time_zones


@pytest.mark.parametrize(
    ("raw", "default_region", "e164"),
    [
        ("(212) 234-5678", "US", "+12122345678"),
        ("212.234.5678", "US", "+12122345678"),
        ("020 7946 0018", "GB", "+442079460018"),
        ("01 23 45 67 89", "FR", "+33123456789"),
        ("+44 (0)20 7946 0018", None, "+442079460018"),  # national prefix kept after +44
        ("+33 (0)6 12 34 56 78", None, "+33612345678"),
        ("+1 1 212 234 5678", None, "+12122345678"),
    ],
)
def test_national_formats_and_prefixes(raw: str, default_region: str | None, e164: str) -> None:
    for record in _both(raw, default_region):
        assert record.valid and record.e164 == e164 and record.raw == raw


@pytest.mark.parametrize(
    ("raw", "default_region", "reason"),
    [
        ("", None, "empty"),
        ("   ", "US", "empty"),
        (None, None, "empty"),
        (float("nan"), None, "empty"),
        ("hello", None, "not a phone number"),
        ("call me", "US", "not a phone number"),
        ("+1212", None, "too short"),
        ("+19999999999", None, "not a valid number for its region"),
        ("+1212234567890123", None, "too long"),
        ("+9991234567", None, "unknown country code (use +CC or a default region)"),
        ("2122345678", None, "unknown country code (use +CC or a default region)"),
        ("+1" + " " * 300 + "2122345678", None, "too long"),
    ],
)
def test_invalid_inputs_give_reasons(raw: object, default_region: str | None, reason: str) -> None:
    for record in _both(raw, default_region):
        assert record.valid is False
        assert record.invalid_reason == reason
        assert record.line_type == "unknown" and record.time_zones == ()
        assert record.non_geographic is True


def test_nanp_area_code_table_covers_states_and_provinces() -> None:
    table = area_code_subdivisions()
    assert table["305"] == "US-FL" and table["416"] == "CA-ON" and table["212"] == "US-NY"
    assert "800" not in table  # toll-free is nowhere


# --- normalize_many: shape and contract ------------------------------------------------------


def test_normalize_many_shape_order_and_index() -> None:
    raws = pd.Series(
        ["+14162345678", "nonsense", "+14162345678", None, "(212) 234-5678"],
        index=[10, 3, 7, 8, 1],
        dtype=object,
    )
    frame = normalize_many(raws, "US")
    assert list(frame.columns) == list(RECORD_COLUMNS)
    assert list(frame.index) == [0, 1, 2, 3, 4]
    assert frame["raw"].tolist() == raws.tolist()
    assert frame["e164"].tolist() == ["+14162345678", None, "+14162345678", None, "+12122345678"]
    assert frame["valid"].dtype == bool and frame["non_geographic"].dtype == bool
    assert frame["region"].tolist() == ["CA", None, "CA", None, "US"]


@pytest.mark.parametrize("container", [list, tuple, np.array, pd.Series])
def test_normalize_many_accepts_sequences_arrays_and_series(container: type) -> None:
    raws = ["+33612345678", "+61412345678"]
    frame = normalize_many(container(raws))
    assert frame["line_type"].tolist() == ["mobile", "mobile"]
    assert frame["region"].tolist() == ["FR", "AU"]


def test_normalize_many_of_nothing() -> None:
    frame = normalize_many([])
    assert len(frame) == 0 and list(frame.columns) == list(RECORD_COLUMNS)


def test_time_zone_tuples_are_shared() -> None:
    raws = [f"+1212234{i:04d}" for i in range(2000)] + [f"+6141234{i:04d}" for i in range(2000)]
    zones = normalize_many(raws)["time_zones"]
    assert len({id(z) for z in zones}) == 2
    assert zones[0] == ("America/New_York",) and len(zones[2000]) == 8


def test_normalize_many_does_not_fill_the_per_number_cache() -> None:
    before = normalize.cache_info().currsize
    normalize_many([f"+4420794{i:05d}" for i in range(500)] + ["not a number"])
    assert normalize.cache_info().currsize == before


# --- normalize_many == normalize, row for row ------------------------------------------------


def _random_inputs(seed: int, count: int) -> list[object]:
    """Random digits under every calling code (target ones weighted up), invalid codes, short
    and long numbers, formatted variants, national formats and junk."""
    rng = np.random.default_rng(seed)
    codes = np.array(_ALL_CODES + list(_TARGET_CODES) * 40 + [0, 999, 21, 42, 5], dtype=object)
    digit_rows = rng.integers(ord("0"), ord("9") + 1, (count, 14), dtype=np.uint8)
    inputs: list[object] = []
    for code, length, style, digit_row in zip(
        rng.choice(codes, count),
        rng.choice([2, 3, 5, 6, 7, 8, 9, 9, 10, 10, 10, 11, 11, 12, 13, 14], count),
        rng.random(count),
        digit_rows,
        strict=True,
    ):
        digits = digit_row[:length].tobytes().decode()
        number = f"+{code}{digits}"
        if style < 0.70:
            inputs.append(number)
        elif style < 0.78:
            inputs.append(f"+{code} ({digits[:3]}) {digits[3:6]}-{digits[6:]}")
        elif style < 0.82:
            inputs.append(f"  {number[:4]}.{number[4:8]} {number[8:]} ")
        elif style < 0.86:
            inputs.append(digits)  # national: needs a default region
        elif style < 0.88:
            inputs.append(f"0{digits}")
        elif style < 0.90:
            inputs.append(f"{number} x{digits[:2]}")  # extension
        elif style < 0.92:
            inputs.append(f"+{code} {digits[:3]}-FLOWERS")  # vanity letters
        elif style < 0.94:
            inputs.append(f"00{code}{digits}")  # IDD instead of +
        elif style < 0.95:
            inputs.append(f"++{code}{digits}")
        elif style < 0.96:
            inputs.append(f"tel:+{code}{digits}")
        elif style < 0.97:
            inputs.append(None)
        elif style < 0.98:
            inputs.append(math.nan)
        else:
            inputs.append(rng.choice(["", " ", "+", "+()", "n/a", "+1-", "０３-1234-5678"]))
    return inputs


def _assert_rows_equal(raws: list[object], default_region: str | None) -> None:
    frame = normalize_many(raws, default_region)
    assert len(frame) == len(raws) and list(frame.columns) == list(RECORD_COLUMNS)
    got_columns = {c: frame[c].tolist() for c in RECORD_COLUMNS}
    mismatches = []
    for i, raw in enumerate(raws):
        expected = _normalize_uncached(raw, default_region)
        got = tuple(got_columns[c][i] for c in RECORD_COLUMNS[1:])
        want = tuple(getattr(expected, c) for c in RECORD_COLUMNS[1:])
        same_raw = got_columns["raw"][i] is raw
        if got != want or not same_raw:
            mismatches.append((raw, got, want))
    assert not mismatches, f"{len(mismatches)} rows differ, first: {mismatches[:3]}"


@pytest.mark.parametrize(
    ("seed", "count", "default_region"),
    [(1, 12_000, None), (2, 2_000, "US"), (3, 2_000, "GB"), (4, 1_000, "AU")],
)
def test_normalize_many_equals_normalize_on_random_sample(
    seed: int, count: int, default_region: str | None
) -> None:
    _assert_rows_equal(_random_inputs(seed, count), default_region)


def test_normalize_many_equals_normalize_on_example_numbers_of_every_region() -> None:
    """libphonenumber's own example number for every region and type, as E.164 and with the
    last digit changed (often invalid)."""
    raws: list[object] = []
    for region in sorted(pn.SUPPORTED_REGIONS):
        for number_type in (*pn.PhoneNumberType.values(),):
            example = pn.example_number_for_type(region, number_type)
            if example is None:
                continue
            e164 = pn.format_number(example, pn.PhoneNumberFormat.E164)
            raws += [e164, e164[:-1] + str((int(e164[-1]) + 5) % 10)]
    assert len(raws) > 1500
    _assert_rows_equal(raws, None)


_calling_codes = st.sampled_from(_ALL_CODES + [0, 999])
_e164_like = st.builds(
    lambda code, body: f"+{code}{body}",
    _calling_codes,
    st.text(alphabet="0123456789", min_size=0, max_size=14),
)
_punctuated = st.builds(
    lambda code, body: f"+{code}{body}",
    _calling_codes,
    st.text(alphabet="0123456789 -.()", min_size=0, max_size=20),
)
_junk = st.text(alphabet="+0123456789 -.()x#;a", max_size=22)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    raws=st.lists(st.one_of(_e164_like, _punctuated, _junk, st.none()), min_size=1, max_size=40),
    default_region=st.sampled_from([None, "US", "CA", "GB", "FR", "DE", "AU", "CN", "AR"]),
)
def test_normalize_many_equals_normalize_hypothesis(
    raws: list[str | None], default_region: str | None
) -> None:
    _assert_rows_equal(raws, default_region)


def test_regions_of_is_the_region_of_normalize() -> None:
    """regions_of (the simulator's region of each number) reads normalize's region."""
    from features.phone import regions_of

    raws = ["+12015550123", "+15062345678", "+447400123456", "+61412345678", "12345", "", "+1"]
    expected = [normalize(raw).region or "??" for raw in raws]
    assert regions_of(raws).to_pylist() == expected
    assert regions_of(pa.array(raws)).to_pylist() == expected


def test_the_normalize_cache_is_bounded_by_bytes() -> None:
    """A million inputs of up to 1,024 characters took a worker from 0.7 to 2 GB."""
    from features.phone.scalar import ByteBoundedCache

    calls: list[str] = []

    def upper(raw: str, default_region: str | None = None) -> str:
        calls.append(raw)
        return raw.upper()

    cache = ByteBoundedCache(upper, max_bytes=200_000)
    for i in range(2_000):
        assert cache(f"{i:04d}" + "x" * 1000) == f"{i:04d}" + "X" * 1000
    info = cache.cache_info()
    assert 0 < info.bytes <= 200_000 and info.currsize < 2_000
    cache("1999" + "x" * 1000)  # the most recent stays …
    assert len(calls) == 2_000
    cache("0000" + "x" * 1000)  # … the oldest went
    assert len(calls) == 2_001
    assert normalize.cache_info().max_bytes > 0
