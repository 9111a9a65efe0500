"""Files in the data contracts: typed columns derived from :mod:`features.schema`,
vectorised row validation, and CSV/Parquet loaders that never drop a row silently.

A file with bad rows is rejected whole with messages that name file, row and field::

    events.csv row 1042 (line 1043): ts 'yesterday' is not an ISO-8601 instant

With ``skip_invalid=True`` the valid rows load and the rejects are returned, to be
written beside the output by :func:`write_rejects`.

Rows are numbered from 1 over the data rows; for CSV the line number in the file
(header = line 1) is given too.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
from pydantic.fields import FieldInfo

from features.schema import EVENT_KIND_REQUIRES, FILE_RECORDS, Record

ColumnKind = Literal["str", "enum", "instant", "float", "int", "bool", "localtime", "region"]

#: ISO-8601 instant with an explicit offset or Z (a date alone or a naive time is refused).
_INSTANT_RE = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?\s*(Z|z|[+-]\d{2}(:?\d{2})?)$"
_MAX_MESSAGES = 20


@dataclass(frozen=True)
class Column:
    """One typed column of a file contract, derived from a pydantic field."""

    name: str
    kind: ColumnKind
    required: bool
    choices: tuple[str, ...] = ()
    ge: float | None = None
    le: float | None = None
    default: Any = None

    @property
    def arrow_type(self) -> pa.DataType:
        return {
            "str": pa.string(),
            "enum": pa.string(),
            "localtime": pa.string(),
            "region": pa.string(),
            "instant": pa.timestamp("us", tz="UTC"),
            "float": pa.float64(),
            "int": pa.int64(),
            "bool": pa.bool_(),
        }[self.kind]


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """Strip ``X | None`` and ``Annotated``; return (base annotation, optional?)."""
    optional = False
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        optional = len(args) < len(typing.get_args(annotation))
        annotation = args[0]
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation, optional


def _column(name: str, info: FieldInfo) -> Column:
    base, _ = _unwrap(info.annotation)
    meta = {type(m).__name__: m for m in info.metadata}
    ge = getattr(meta.get("Ge"), "ge", None)
    le = getattr(meta.get("Le"), "le", None)
    required = info.is_required()
    default = None if required else info.default
    # Annotated aliases keep their validator names in metadata of the original alias.
    text = repr(info.annotation) + repr(info.metadata)
    if typing.get_origin(base) is Literal:
        return Column(name, "enum", required, tuple(typing.get_args(base)), default=default)
    if "AwareDatetime" in text or base is __import__("datetime").datetime:
        return Column(name, "instant", required, default=default)
    if "_check_hhmm" in text:
        return Column(name, "localtime", required, default=default)
    if "_check_region" in text:
        return Column(name, "region", required, default=default)
    if base is bool:
        return Column(name, "bool", required, default=default)
    if base is int:
        return Column(name, "int", required, ge=ge, le=le, default=default)
    if base is float:
        return Column(name, "float", required, ge=ge, le=le, default=default)
    return Column(name, "str", required, default=default)


def columns_for(model: type[Record]) -> tuple[Column, ...]:
    """The file columns of a record type (list-valued fields are not file columns)."""
    cols = []
    for name, info in model.model_fields.items():
        if typing.get_origin(_unwrap(info.annotation)[0]) is list:
            continue
        cols.append(_column(name, info))
    return tuple(cols)


def arrow_schema(model: type[Record]) -> pa.Schema:
    """The pyarrow schema files of this record type are written with."""
    return pa.schema(
        [pa.field(c.name, c.arrow_type, nullable=not c.required) for c in columns_for(model)]
    )


EVENT_COLUMNS = columns_for(FILE_RECORDS["events"])


# --------------------------------------------------------------------------- errors
@dataclass
class RowError:
    row: int  # 1-based data row
    field: str
    value: str
    error: str


class InvalidFileError(ValueError):
    """A file has rows that break the contract; ``errors`` lists every one."""

    def __init__(self, path: Path, errors: list[RowError], *, csv: bool) -> None:
        self.path = path
        self.errors = errors
        lines = [format_error(path, e, csv=csv) for e in errors[:_MAX_MESSAGES]]
        more = len(errors) - len(lines)
        rows = len({e.row for e in errors})
        head = f"{path.name}: {rows} invalid row(s); nothing was loaded"
        tail = f"\n  … and {more} more" if more > 0 else ""
        hint = "\n  (use --skip-invalid to load the valid rows and write the rejects beside the output)"
        super().__init__(head + "\n  " + "\n  ".join(lines) + tail + hint)


def format_error(path: Path, e: RowError, *, csv: bool) -> str:
    where = f"row {e.row} (line {e.row + 1})" if csv else f"row {e.row}"
    if e.field == "*":
        return f"{path.name} {where}: {e.error}"
    if e.value == "":
        return f"{path.name} {where}: {e.field} {e.error}"
    shown = e.value if len(e.value) <= 60 else e.value[:57] + "..."
    return f"{path.name} {where}: {e.field} {shown!r} {e.error}"


@dataclass
class LoadResult:
    """Valid rows, typed; and the rejects (one row per error)."""

    frame: pd.DataFrame
    rejects: pd.DataFrame = field(default_factory=lambda: pd.DataFrame())
    source: Path | None = None

    @property
    def rejected_rows(self) -> int:
        return 0 if self.rejects.empty else int(self.rejects["row"].nunique())


# --------------------------------------------------------------------------- validation
def _as_text(series: pd.Series) -> pd.Series:
    """A column as strings (None for missing), whatever the file gave."""
    if series.dtype == object or pd.api.types.is_string_dtype(series):
        s = series.astype("str")
        return s.str.strip().mask(s.str.strip() == "")
    return series.astype("str").mask(series.isna())


def _validate_column(col: Column, raw: pd.Series) -> tuple[pd.Series, pd.Series, str]:
    """Return (typed values, bad-row mask, reason)."""
    n = len(raw)
    # Typed columns straight from Parquet keep their type.
    if col.kind == "instant" and isinstance(raw.dtype, pd.DatetimeTZDtype):
        return raw.dt.tz_convert("UTC"), pd.Series(False, index=raw.index), ""
    if col.kind == "instant" and pd.api.types.is_datetime64_dtype(raw.dtype):
        bad = raw.notna()
        return raw.dt.tz_localize("UTC"), bad, "has no time zone (naive timestamp)"
    if (
        col.kind in ("float", "int")
        and pd.api.types.is_numeric_dtype(raw.dtype)
        and not pd.api.types.is_bool_dtype(raw.dtype)
    ):
        values = raw.astype("float64")
        bad = pd.Series(False, index=raw.index)
        reason = ""
        if col.kind == "int":
            frac = values.notna() & (values != np.floor(values.fillna(0)))
            bad |= frac
            reason = "is not a whole number"
        return _range(col, values, bad, reason)
    if col.kind == "bool" and pd.api.types.is_bool_dtype(raw.dtype):
        return raw.astype("boolean"), pd.Series(False, index=raw.index), ""

    text = _as_text(raw)
    present = text.notna()
    if col.kind in ("str",):
        return text, pd.Series(False, index=raw.index), ""
    if col.kind == "enum":
        bad = present & ~text.isin(col.choices)
        return text, bad, f"is not one of {', '.join(col.choices)}"
    if col.kind == "instant":
        shaped = text.str.match(_INSTANT_RE).fillna(False).astype(bool)
        parsed = pd.to_datetime(text.where(shaped), format="ISO8601", utc=True, errors="coerce")
        bad = present & (~shaped | parsed.isna())
        return parsed, bad, "is not an ISO-8601 instant with an offset or Z"
    if col.kind == "localtime":
        bad = present & ~text.str.match(r"^([01]\d|2[0-3]):[0-5]\d$").fillna(False).astype(bool)
        return text, bad, "is not a local time HH:MM"
    if col.kind == "region":
        bad = present & ~text.str.match(r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$").fillna(False).astype(bool)
        return text, bad, "is not an ISO 3166-1/2 code such as 'US' or 'US-LA'"
    if col.kind == "bool":
        low = text.str.lower()
        truthy = low.isin(["true", "1", "yes", "y", "t"])
        falsy = low.isin(["false", "0", "no", "n", "f"])
        bad = present & ~(truthy | falsy)
        values = (
            pd.Series(pd.NA, index=raw.index, dtype="boolean").mask(truthy, True).mask(falsy, False)
        )
        return values, bad, "is not true/false"
    # float / int from text
    values = pd.to_numeric(text, errors="coerce")
    bad = present & values.isna()
    reason = "is not a number"
    if col.kind == "int":
        frac = values.notna() & (values != np.floor(values.fillna(0)))
        bad |= frac
        reason = "is not a whole number"
    if n and bad.any():
        values = values.mask(bad)
    return _range(col, values.astype("float64"), bad, reason)


def _range(
    col: Column, values: pd.Series, bad: pd.Series, reason: str
) -> tuple[pd.Series, pd.Series, str]:
    extra = pd.Series(False, index=values.index)
    if col.ge is not None:
        extra |= values < col.ge
    if col.le is not None:
        extra |= values > col.le
    if extra.any():
        lo = "" if col.ge is None else f">= {col.ge:g}"
        hi = "" if col.le is None else f"<= {col.le:g}"
        rng = " and ".join(x for x in (lo, hi) if x)
        reason = f"{reason}; must be {rng}" if reason else f"must be {rng}"
    if col.kind == "int":
        values = values.astype("Int64", errors="ignore") if not (bad | extra).any() else values
    return values, bad | extra, reason


def validate_frame(df: pd.DataFrame, model: type[Record]) -> tuple[pd.DataFrame, list[RowError]]:
    """Validate and type a raw frame against a contract. Rows are numbered from 1.

    Returns the typed frame (all rows, bad values set to missing) and the errors.
    """
    cols = columns_for(model)
    known = {c.name for c in cols}
    errors: list[RowError] = []
    unknown = [c for c in df.columns if c not in known]
    if unknown:
        raise ValueError(
            f"unknown column(s) {unknown}; the {model.__name__} contract has: {', '.join(sorted(known))}"
        )
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
        values, bad, reason = _validate_column(col, raw)
        if bad.any():
            idx = np.flatnonzero(bad.to_numpy())
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
    typed = pd.DataFrame(out, index=df.index)
    errors.extend(_cross_field_errors(typed, model, rownum))
    errors.sort(key=lambda e: (e.row, e.field))
    return typed, errors


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


def _pandas_dtype(col: Column) -> str | pd.DatetimeTZDtype:
    return {
        "instant": pd.DatetimeTZDtype("us", "UTC"),
        "float": "float64",
        "int": "Int64",
        "bool": "boolean",
    }.get(col.kind, "str")


# --------------------------------------------------------------------------- files
def read_raw(path: Path) -> pd.DataFrame:
    """Read a CSV (all as text, nothing inferred) or Parquet file."""
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return pd.read_parquet(path)
    if suffix in (".csv", ".txt"):
        return pd.read_csv(
            path, dtype="str", keep_default_na=False, na_values=[""], engine="pyarrow"
        )
    raise ValueError(f"{path}: unsupported file type {suffix!r}; use .csv or .parquet")


def load_records(path: str | Path, record: str, *, skip_invalid: bool = False) -> LoadResult:
    """Load and validate a file of one record type (``events``, ``consent``, …).

    Raises :class:`InvalidFileError` if any row is invalid and ``skip_invalid`` is false.
    """
    path = Path(path)
    model = FILE_RECORDS[record]
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        raw = read_raw(path)
    except ValueError:
        raise
    except Exception as exc:  # a corrupt file must name itself
        raise ValueError(f"{path}: cannot be read as {path.suffix[1:]}: {exc}") from exc
    try:
        typed, errors = validate_frame(raw, model)
    except ValueError as exc:
        raise ValueError(f"{path.name}: {exc}") from exc
    if model.__name__ == "Event":
        errors.extend(_duplicate_id_errors(typed))
    csv = path.suffix.lower() != ".parquet"
    if errors and not skip_invalid:
        raise InvalidFileError(path, errors, csv=csv)
    rejects = pd.DataFrame(
        [{"row": e.row, "field": e.field, "value": e.value, "error": e.error} for e in errors],
        columns=["row", "field", "value", "error"],
    )
    if errors:
        bad_rows = np.unique([e.row for e in errors]) - 1
        keep = np.ones(len(typed), dtype=bool)
        keep[bad_rows] = False
        typed = typed.iloc[keep].reset_index(drop=True)
    return LoadResult(typed.reset_index(drop=True), rejects, path)


def _duplicate_id_errors(df: pd.DataFrame) -> list[RowError]:
    dup = df["event_id"].duplicated(keep="first") & df["event_id"].notna()
    return [
        RowError(int(i) + 1, "event_id", str(v), "repeats an earlier row's event_id")
        for i, v in zip(np.flatnonzero(dup.to_numpy()), df.loc[dup, "event_id"], strict=True)
    ]


def load_events(path: str | Path, *, skip_invalid: bool = False) -> LoadResult:
    """Load an event file (CSV or Parquet) in the Event contract."""
    return load_records(path, "events", skip_invalid=skip_invalid)


def rejects_path(output: str | Path) -> Path:
    """Where the rejects of a load feeding ``output`` are written: beside it."""
    output = Path(output)
    return output.with_name(output.stem + ".rejects.csv")


def write_rejects(result: LoadResult, output: str | Path) -> Path | None:
    """Write the rejects beside ``output`` (``<stem>.rejects.csv``); None if there are none."""
    if result.rejects.empty:
        return None
    path = rejects_path(output)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = result.rejects.copy()
    if result.source is not None:
        frame.insert(0, "file", result.source.name)
    frame.to_csv(path, index=False)
    return path


def write_records(df: pd.DataFrame, path: str | Path, record: str) -> Path:
    """Write a frame in a record contract to Parquet (typed) or CSV (ISO-8601 instants)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = FILE_RECORDS[record]
    cols = [c for c in columns_for(model) if c.name in df.columns]
    if path.suffix.lower() == ".csv":
        out = df[[c.name for c in cols]].copy()
        for c in cols:
            if c.kind == "instant":
                out[c.name] = (
                    out[c.name]
                    .dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
                    .str.replace(".000000Z", "Z", regex=False)
                )
        out.to_csv(path, index=False)
    else:
        table = to_arrow(df, cols)
        import pyarrow.parquet as pq

        pq.write_table(table, path, compression="zstd")
    return path


def to_arrow(df: pd.DataFrame, cols: tuple[Column, ...] | list[Column]) -> pa.Table:
    """A frame's contract columns as an Arrow table with the contract's types."""
    arrays = []
    for c in cols:
        values = df[c.name]
        if c.kind == "instant":
            naive = values.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[us]")
            arr = pa.array(naive, type=pa.timestamp("us"), from_pandas=True).cast(c.arrow_type)
        else:
            arr = pa.array(values, type=c.arrow_type, from_pandas=True)
        arrays.append(arr)
    return pa.Table.from_arrays(
        arrays, schema=pa.schema([pa.field(c.name, c.arrow_type) for c in cols])
    )
