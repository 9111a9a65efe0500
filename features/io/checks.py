"""Row validation of a raw chunk against a record contract, vectorised: types, vocabularies,
ranges, required and cross-field rules, numbers to E.164, replays and repeated ``event_id``s.
Every problem is a :class:`RowError` naming row, field and value."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from features.io.columns import Column, _pandas_dtype, columns_for
from features.pseudonyms import PSEUDONYM_FACTS, fact_problems, is_pseudonym
from features.schema import (
    EARLIEST_INSTANT,
    EVENT_KIND_REQUIRES,
    FILE_RECORDS,
    INSTANT_RANGE_TEXT,
    LATEST_INSTANT,
    Record,
)

#: ISO-8601 instant with an explicit offset or Z (a date alone or a naive time is refused).
_INSTANT_RE = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?\s*(Z|z|[+-]\d{2}(:?\d{2})?)$"
_MAX_MESSAGES = 20


# --------------------------------------------------------------------------- errors
@dataclass
class RowError:
    row: int  # 1-based data row
    field: str
    value: str
    error: str
    #: The file of the row when it is not the file the error is reported for (a folder).
    file: str | None = None


class InvalidFileError(ValueError):
    """A file has rows that break the contract; ``errors`` lists every one."""

    def __init__(
        self,
        path: Path,
        errors: list[RowError],
        *,
        csv: bool,
        invalid_rows: int | None = None,
        more: int = 0,
    ) -> None:
        """``invalid_rows`` and ``more``: when ``errors`` are the first of more (counted
        elsewhere), the rows in error in all and the errors not listed."""
        self.path = path
        self.errors = errors
        lines = [format_error(path, e, csv=csv) for e in errors[:_MAX_MESSAGES]]
        more += len(errors) - len(lines)
        rows = invalid_rows if invalid_rows is not None else len({(e.file, e.row) for e in errors})
        head = f"{path.name}: {rows} invalid row(s); nothing was loaded"
        tail = f"\n  … and {more} more" if more > 0 else ""
        hint = "\n  (use --skip-invalid to load the valid rows and write the rejects beside the output)"
        super().__init__(head + "\n  " + "\n  ".join(lines) + tail + hint)


def format_error(path: Path, e: RowError, *, csv: bool) -> str:
    where = f"row {e.row} (line {e.row + 1})" if csv else f"row {e.row}"
    name = e.file or path.name
    if e.field == "*":
        return f"{name} {where}: {e.error}"
    if e.value == "":
        return f"{name} {where}: {e.field} {e.error}"
    shown = e.value if len(e.value) <= 60 else e.value[:57] + "..."
    return f"{name} {where}: {e.field} {shown!r} {e.error}"


# --------------------------------------------------------------------------- validation
def _as_text(series: pd.Series) -> pd.Series:
    """A column as strings (None for missing), whatever the file gave."""
    if series.dtype == object or pd.api.types.is_string_dtype(series):
        s = series.astype("str")
        return s.str.strip().mask(s.str.strip() == "")
    return series.astype("str").mask(series.isna())


#: One check of a column: the rows that fail it and what is wrong with them.
Check = tuple[pd.Series, str]


def _outside_instant_range(values: pd.Series) -> pd.Series:
    """Instants outside the contracts' span (:data:`features.schema.EARLIEST_INSTANT` …
    ``LATEST_INSTANT``, the bound the API's and the store's records apply)."""
    early, late = pd.Timestamp(EARLIEST_INSTANT), pd.Timestamp(LATEST_INSTANT)
    return (values.notna() & ((values < early) | (values >= late))).fillna(False).astype(bool)


def _iso_instant(text: str) -> bool:
    """Whether ``text`` is an ISO-8601 instant Python reads (whatever its year)."""
    try:
        return (
            dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
            is not None
        )
    except ValueError:
        return False


def _validate_column(
    col: Column, raw: pd.Series
) -> tuple[pd.Series, list[Check], int | tuple[int, str]]:
    """Return (typed values, failed checks, and for enum values matched in another case how
    many and an example, else 0). A value fails one check at most: "not a number" only for non-numbers, the range
    for numbers out of it."""
    none = pd.Series(False, index=raw.index)
    # Typed columns straight from Parquet keep their type.
    if col.kind == "instant" and isinstance(raw.dtype, pd.DatetimeTZDtype):
        values = raw.dt.tz_convert("UTC")
        return values, [(_outside_instant_range(values), INSTANT_RANGE_TEXT)], 0
    if col.kind == "instant" and pd.api.types.is_datetime64_dtype(raw.dtype):
        return raw.dt.tz_localize("UTC"), [(raw.notna(), "has no time zone (naive timestamp)")], 0
    if (
        col.kind in ("float", "int")
        and pd.api.types.is_numeric_dtype(raw.dtype)
        and not pd.api.types.is_bool_dtype(raw.dtype)
    ):
        return _numbers(col, raw.astype("float64"), none)
    if col.kind == "bool" and pd.api.types.is_bool_dtype(raw.dtype):
        return raw.astype("boolean"), [], 0

    text = _as_text(raw)
    present = text.notna()
    if col.kind in ("str",):
        return text, [], 0
    if col.kind == "enum":
        exact = text.isin(col.choices)
        lowered = text.str.lower()
        folded = present & ~exact & lowered.isin(col.choices)
        text = text.mask(folded, lowered)
        bad = present & ~exact & ~folded
        checks: list[Check] = [(bad, f"is not one of {', '.join(col.choices)}")]
        if folded.any():
            first = text.index[folded.to_numpy()][0]
            example = f"{raw.loc[first]!r} → {text.loc[first]!r}"
            return text, checks, (int(folded.sum()), example)
        return text, checks, 0
    if col.kind == "instant":
        shaped = text.str.match(_INSTANT_RE).fillna(False).astype(bool)
        parsed = pd.to_datetime(text.where(shaped), format="ISO8601", utc=True, errors="coerce")
        bad = present & (~shaped | parsed.isna())
        # a well-formed instant the column cannot hold (past year 9999 in UTC) is out of
        # range, as the API says, not malformed
        overflow = bad & shaped & text.map(_iso_instant, na_action="ignore").fillna(False)
        out_of_range = (present & ~bad & _outside_instant_range(parsed)) | overflow
        return (
            parsed.mask(out_of_range),
            [
                (bad & ~overflow, "is not an ISO-8601 instant with an offset or Z"),
                (out_of_range, INSTANT_RANGE_TEXT),
            ],
            0,
        )
    if col.kind == "localtime":
        bad = present & ~text.str.match(r"^([01]\d|2[0-3]):[0-5]\d$").fillna(False).astype(bool)
        return text, [(bad, "is not a local time HH:MM")], 0
    if col.kind == "region":
        bad = present & ~text.str.match(r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$").fillna(False).astype(bool)
        return text, [(bad, "is not an ISO 3166-1/2 code such as 'US' or 'US-LA'")], 0
    if col.kind == "bool":
        low = text.str.lower()
        truthy = low.isin(["true", "1", "yes", "y", "t"])
        falsy = low.isin(["false", "0", "no", "n", "f"])
        bad = present & ~(truthy | falsy)
        values = (
            pd.Series(pd.NA, index=raw.index, dtype="boolean").mask(truthy, True).mask(falsy, False)
        )
        return values, [(bad, "is not true/false")], 0
    # float / int from text
    values = pd.to_numeric(text, errors="coerce")
    not_number = present & values.isna()
    return _numbers(col, values.astype("float64"), not_number)


def _numbers(
    col: Column, values: pd.Series, not_number: pd.Series
) -> tuple[pd.Series, list[Check], int]:
    """Numeric checks, each row failing one at most: not a number, not whole, out of range."""
    checks: list[Check] = [(not_number, "is not a number")]
    failed = not_number.copy()
    if col.kind == "int":
        frac = values.notna() & (values != np.floor(values.fillna(0))) & ~failed
        checks.append((frac, "is not a whole number"))
        failed |= frac
    out_of_range = pd.Series(False, index=values.index)
    if col.ge is not None:
        out_of_range |= values < col.ge
    if col.le is not None:
        out_of_range |= values > col.le
    out_of_range &= ~failed
    if out_of_range.any():
        lo = "" if col.ge is None else f"≥ {col.ge:g}"
        hi = "" if col.le is None else f"≤ {col.le:g}"
        checks.append((out_of_range, "must be " + " and ".join(x for x in (lo, hi) if x)))
        failed |= out_of_range
    values = values.mask(failed)
    if col.kind == "int" and not failed.any():
        values = values.astype("Int64", errors="ignore")
    return values, checks, 0


#: The file-only column that says which country a row's national-format number is in.
REGION_COLUMN = "region"


def _has_number(model: type[Record]) -> bool:
    return "number" in model.model_fields


def validate_frame(
    df: pd.DataFrame,
    model: type[Record],
    *,
    strict: bool = False,
    notes: list[str] | None = None,
) -> tuple[pd.DataFrame, list[RowError]]:
    """Validate and type a raw frame against a contract. Rows are numbered from 1.

    Returns the typed frame (all rows, bad values set to missing) and the errors. Columns
    the contract does not know are dropped with a note (``strict``: refused); enum values
    in another case are folded, with a note. For records with a ``number``, a ``region``
    column is kept (as text) for :func:`normalise_numbers`.
    """
    notes = notes if notes is not None else []
    cols = columns_for(model)
    known = {c.name for c in cols}
    file_only = (
        {REGION_COLUMN, *PSEUDONYM_FACTS}
        if _has_number(model) and REGION_COLUMN not in known
        else set()
    )
    errors: list[RowError] = []
    unknown = [c for c in df.columns if c not in known | file_only]
    if unknown and strict:
        raise ValueError(
            f"unknown column(s) {unknown}; the {model.__name__} contract has: "
            f"{', '.join(sorted(known | file_only))} (without --strict they are ignored)"
        )
    if unknown:
        notes.append(f"ignored column(s) the {model.__name__} contract does not have: {unknown}")
    missing_required = [c.name for c in cols if c.required and c.name not in df.columns]
    if missing_required:
        raise ValueError(f"missing required column(s) {missing_required} for {model.__name__}")

    out: dict[str, pd.Series] = {}
    rownum = np.arange(1, len(df) + 1)
    for col in cols:
        if col.name not in df.columns:
            fill = col.default
            out[col.name] = pd.Series([fill] * len(df), index=df.index, dtype=_pandas_dtype(col))
            continue
        raw = df[col.name]
        values, checks, folded = _validate_column(col, raw)
        if folded:
            count, example = folded
            notes.append(f"{col.name}: {count:,} value(s) matched in another case (e.g. {example})")
        bad = pd.Series(False, index=raw.index)
        for failed, reason in checks:
            if not failed.any():
                continue
            bad |= failed
            idx = np.flatnonzero(failed.to_numpy())
            text = raw.iloc[idx].astype("str").to_numpy()
            errors.extend(
                RowError(int(rownum[i]), col.name, str(v), reason)
                for i, v in zip(idx, text, strict=True)
            )
        missing = values.isna() & ~bad
        if col.required and missing.any():
            idx = np.flatnonzero(missing.to_numpy())
            errors.extend(RowError(int(rownum[i]), col.name, "", "is required") for i in idx)
        if col.default is not None:
            values = (
                values.fillna(col.default)
                if col.kind != "bool"
                else values.fillna(bool(col.default))
            )
        out[col.name] = values
    if file_only and REGION_COLUMN in df.columns:
        region = _as_text(df[REGION_COLUMN]).str.upper()
        bad = region.notna() & ~region.str.fullmatch(r"[A-Z]{2}").fillna(False).astype(bool)
        for i in np.flatnonzero(bad.to_numpy()):
            errors.append(
                RowError(int(rownum[i]), REGION_COLUMN, str(df[REGION_COLUMN].iloc[i]),
                         "is not an ISO 3166-1 country code such as 'US' or 'GB'")
            )  # fmt: skip
        out[REGION_COLUMN] = region.mask(bad)
    for name in PSEUDONYM_FACTS:
        if file_only and name in df.columns:  # checked with the numbers (normalise_numbers)
            out[name] = _as_text(df[name])
    typed = pd.DataFrame(out, index=df.index)
    errors.extend(_cross_field_errors(typed, model, rownum))
    errors.sort(key=lambda e: (e.row, e.field))
    return typed, errors


def normalise_numbers(
    typed: pd.DataFrame,
    default_region: str | None,
    errors: list[RowError],
    *,
    pseudonyms: bool = False,
) -> int:
    """Replace ``typed["number"]`` by E.164, in place, reading each row's number with its
    ``region`` column or else ``default_region``; an invalid number becomes a row error
    (appended to ``errors``). Drops the ``region`` column. Returns how many were invalid.

    A pseudonymised number (``pseudo:…``, :mod:`features.pseudonyms`) is kept as it is when
    ``pseudonyms`` allows it and its number-fact columns are sound (else a row error naming
    the field); without ``pseudonyms`` it is a row error."""
    from features.phone import normalize_many

    if "number" not in typed.columns:
        return 0
    pseudo = is_pseudonym(typed["number"])
    if pseudo.any():
        rows = np.flatnonzero(pseudo)
        if pseudonyms:
            problems = fact_problems(typed, rows)
        else:
            problems = [
                (int(i), "number", str(typed["number"].iloc[i]),
                 "is a pseudonymised number: only validate, features and train read them "
                 "(a store keeps real numbers)")
                for i in rows
            ]  # fmt: skip
        errors.extend(RowError(i + 1, field, value, why) for i, field, value, why in problems)
    if not pseudonyms:  # the facts belong to pseudonyms only
        for name in PSEUDONYM_FACTS:
            if name in typed.columns:
                del typed[name]
    region = (
        typed.pop(REGION_COLUMN)
        if REGION_COLUMN in typed.columns
        else pd.Series(None, index=typed.index, dtype=object)
    )
    fallback = default_region.upper() if default_region else None
    region = region.astype(object).where(region.notna(), fallback)
    numbers = typed["number"]
    present = numbers.notna().to_numpy() & ~pseudo
    e164 = np.full(len(typed), None, dtype=object)
    reason = np.full(len(typed), None, dtype=object)
    keys = region.fillna("").to_numpy(dtype=object)
    for key in pd.unique(keys[present]):
        rows = np.flatnonzero(present & (keys == key))
        table = normalize_many(numbers.iloc[rows].to_numpy(dtype=object), key or None)
        valid = table["valid"].to_numpy(dtype=bool)
        e164[rows[valid]] = table["e164"].to_numpy(dtype=object)[valid]
        reason[rows[~valid]] = table["invalid_reason"].to_numpy(dtype=object)[~valid]
    invalid = present & (e164 == None)  # noqa: E711 (element-wise)
    no_region = region.isna().to_numpy()
    raw = numbers.to_numpy(dtype=object)
    for i in np.flatnonzero(invalid):
        why = reason[i] or "invalid"
        hint = (
            "; national formats need a region column or --default-region"
            if no_region[i] and not str(raw[i]).lstrip().startswith("+")
            else ""
        )
        errors.append(
            RowError(
                int(i) + 1, "number", str(raw[i]), f"is not a valid phone number ({why}){hint}"
            )
        )
    e164[pseudo] = numbers.to_numpy(dtype=object)[pseudo]  # rows at fault are rejected whole
    typed["number"] = pd.Series(np.where(invalid, None, e164), index=typed.index, dtype=object)
    typed.loc[~(present | pseudo), "number"] = None
    return int(invalid.sum())


def _cross_field_errors(
    df: pd.DataFrame, model: type[Record], rownum: np.ndarray
) -> list[RowError]:
    """The model validators of :mod:`features.schema`, vectorised."""
    errs: list[RowError] = []

    def add(mask: pd.Series, field_name: str, message: str) -> None:
        for i in np.flatnonzero(mask.fillna(False).to_numpy()):
            errs.append(RowError(int(rownum[i]), field_name, "", message))

    name = model.__name__
    if name == "Event":
        for kind, needed in EVENT_KIND_REQUIRES.items():
            for f in needed:
                add((df["kind"] == kind) & df[f].isna(), f, f"is required for a {kind} event")
    elif name == "Consent":
        add(
            df["revoked_at"].notna() & (df["revoked_at"] < df["granted_at"]),
            "revoked_at",
            "is before granted_at",
        )
    elif name == "BlockedPeriod":
        add(df["end"] <= df["start"], "end", "must be after start")
    elif name == "Preference":
        add(
            df["quiet_start"].isna() != df["quiet_end"].isna(),
            "quiet_end",
            "quiet_start and quiet_end go together",
        )
        ch = df["channels"]
        ok = ch.str.fullmatch(r"(call|sms)(\|(call|sms))*").fillna(False).astype(bool)
        add(ch.notna() & ~ok, "channels", "lists an unknown channel; use call|sms")
    return errs


@dataclass
class CheckedRows:
    """Every row of a raw chunk, typed, with what is wrong with them (:func:`check_records`)."""

    typed: pd.DataFrame
    errors: list[RowError]
    notes: list[str]
    invalid_numbers: int
    #: Rows that repeat an earlier row exactly (skipped, not errors).
    replays: np.ndarray

    def keep(self) -> np.ndarray:
        """Which rows load: neither in error nor a replay."""
        keep = ~self.replays
        if self.errors:
            keep[np.unique([e.row for e in self.errors]) - 1] = False
        return keep

    def split(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(the rows that load, renumbered from 0; the rejects, one row per error)."""
        rejects = pd.DataFrame(
            [{"row": e.row, "field": e.field, "value": e.value, "error": e.error}
             for e in self.errors],
            columns=["row", "field", "value", "error"],
        )  # fmt: skip
        keep = self.keep()
        typed = self.typed if keep.all() else self.typed.iloc[keep]
        return typed.reset_index(drop=True), rejects


def check_records(
    raw: pd.DataFrame,
    record: str,
    *,
    default_region: str | None = None,
    strict: bool = False,
    pseudonyms: bool = False,
    repeated_ids: bool = True,
) -> CheckedRows:
    """Validate and type a raw chunk of one record type, as every loader does: the contract
    (:func:`validate_frame`), numbers to E.164 (:func:`normalise_numbers`; with
    ``pseudonyms`` a pseudonymised export's numbers are kept with their facts), and for
    events replays and conflicting ``event_id`` repeats (unless ``repeated_ids`` is false:
    a chunk of a larger source whose repeats are found over the whole of it). Rows are
    numbered from 1 within the chunk. Raises ValueError for a chunk that cannot be read at
    all (a required column missing)."""
    model = FILE_RECORDS[record]
    notes: list[str] = []
    typed, errors = validate_frame(raw, model, strict=strict, notes=notes)
    invalid_numbers = 0
    if _has_number(model):
        invalid_numbers = normalise_numbers(typed, default_region, errors, pseudonyms=pseudonyms)
    if model.__name__ == "Event" and repeated_ids:
        replays, id_errors = _repeated_ids(typed, errors)
        errors.extend(id_errors)
        if replays.any():
            notes.append(
                f"{int(replays.sum()):,} row(s) repeat an earlier row exactly "
                "(replays, skipped as no-ops)"
            )
    else:
        replays = np.zeros(len(typed), dtype=bool)
    errors.sort(key=lambda e: (e.row, e.field))
    return CheckedRows(typed, errors, notes, invalid_numbers, replays)


def _repeated_ids(df: pd.DataFrame, errors: list[RowError]) -> tuple[np.ndarray, list[RowError]]:
    """Rows under an earlier row's ``event_id``: an exact repeat (every typed value equal) is a
    replay; a different row is an error naming both rows. Rows already in error are left out
    (their values are not comparable)."""
    ok = np.ones(len(df), dtype=bool)
    if errors:
        ok[np.unique([e.row for e in errors]) - 1] = False
    replays, first = repeat_positions(df, ok)
    ids = df["event_id"].to_numpy()
    found = [
        RowError(int(r) + 1, "event_id", str(ids[r]), repeats_message(f"row {first[r] + 1}"))
        for r in np.flatnonzero(first >= 0)
    ]
    return replays, found


def repeats_message(first: str) -> str:
    """The error of a row under the event_id of an earlier row (``first``: where it is)."""
    return f"repeats the event_id of {first} with different values"


def repeat_positions(df: pd.DataFrame, eligible: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rule for rows under an earlier row's ``event_id`` (rows in their source order;
    only ``eligible`` rows take part): the first row of an id is kept; a later row equal to
    it in every typed value is a replay; a different one is in conflict with it. Returns
    (replays, the position of the first row for each row in conflict, else -1)."""
    ids = df["event_id"]
    dup = ids.duplicated(keep=False).to_numpy() & ids.notna().to_numpy() & eligible
    replays = np.zeros(len(df), dtype=bool)
    first = np.full(len(df), -1, dtype=np.int64)
    if not dup.any():
        return replays, first
    rows = np.flatnonzero(dup)
    sub = df.iloc[rows]
    content = pd.util.hash_pandas_object(sub.astype("string"), index=False).to_numpy()
    first_row: dict[str, int] = {}
    first_hash: dict[str, int] = {}
    for r, key, h in zip(rows, sub["event_id"].to_numpy(), content, strict=True):
        if key not in first_row:
            first_row[key], first_hash[key] = int(r), int(h)
        elif int(h) == first_hash[key]:
            replays[r] = True
        else:
            first[r] = first_row[key]
    return replays, first
