"""The typed file columns of each record contract, derived from :mod:`features.schema`
(one declaration per field), and their Arrow and pandas types."""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd
import pyarrow as pa
from pydantic.fields import FieldInfo

from features.schema import FILE_RECORDS, Record

ColumnKind = Literal["str", "enum", "instant", "float", "int", "bool", "localtime", "region"]


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


def _pandas_dtype(col: Column) -> str | pd.DatetimeTZDtype:
    return {
        "instant": pd.DatetimeTZDtype("us", "UTC"),
        "float": "float64",
        "int": "Int64",
        "bool": "boolean",
    }.get(col.kind, "str")


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
