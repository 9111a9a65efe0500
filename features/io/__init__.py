"""Files in the data contracts: typed columns derived from :mod:`features.schema`,
vectorised row validation, and CSV/Parquet loaders that never drop a row silently.

A file with bad rows is rejected whole with messages that name file, row and field::

    events.csv row 1042 (line 1043): ts 'yesterday' is not an ISO-8601 instant

With ``skip_invalid=True`` the valid rows load and the rejects are returned, to be
written beside the output by :func:`write_rejects`.

Rows are numbered from 1 over the data rows; for CSV the line number in the file
(header = line 1) is given too.

Tolerant where it is safe, strict where it matters: enum values match in any case (``SMS`` →
``sms``, counted in :attr:`LoadResult.notes`); columns the contract does not know are
ignored with one note naming them (``strict=True`` refuses them); the CSV delimiter is
sniffed (``,`` ``;`` or tab); a row that repeats an earlier row exactly is a replay and
skipped (counted), a different row under an earlier row's ``event_id`` is an error naming
both rows.

Phone numbers are normalised here, once, for every command that reads files (validate,
features, train, store load): each is read with the row's ``region`` column (a file-only
column, ISO 3166-1) or else the ``default_region`` given, and replaced by its E.164 form.
A number that is not valid is a row error (``number``): it is never kept as a raw key.
A pseudonymised export's ``pseudo:…`` numbers are kept, with their number-fact columns, where
the caller reads them (features and training: :mod:`features.pseudonyms`).
"""

from features.io.checks import (
    REGION_COLUMN,
    CheckedRows,
    InvalidFileError,
    RowError,
    check_records,
    format_error,
    normalise_numbers,
    repeat_positions,
    repeats_message,
    validate_frame,
)
from features.io.columns import (
    EVENT_COLUMNS,
    Column,
    ColumnKind,
    _pandas_dtype,
    arrow_schema,
    columns_for,
    to_arrow,
)
from features.io.files import (
    LoadResult,
    describe_load,
    load_events,
    load_records,
    read_raw,
    rejects_path,
    sniff_delimiter,
    write_records,
    write_rejects,
)

__all__ = [
    "EVENT_COLUMNS",
    "REGION_COLUMN",
    "CheckedRows",
    "Column",
    "ColumnKind",
    "InvalidFileError",
    "LoadResult",
    "RowError",
    "_pandas_dtype",
    "arrow_schema",
    "check_records",
    "columns_for",
    "describe_load",
    "format_error",
    "load_events",
    "load_records",
    "normalise_numbers",
    "read_raw",
    "rejects_path",
    "repeat_positions",
    "repeats_message",
    "sniff_delimiter",
    "to_arrow",
    "validate_frame",
    "write_records",
    "write_rejects",
]
