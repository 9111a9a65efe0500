"""Batch screening of a campaign file of any size (``contactgate screen``).

The same decision code as the ``screen`` API (:class:`serving.pipeline.screen.Screener`), run on
chunks of the file so memory stays bounded whatever its size:

1. pass one reads ``--chunk-size`` rows at a time, validates them against the API's contact
   contract, reads the store once per chunk, scores and applies the rules and the risk
   thresholds, and writes the decisions to a temporary file beside the output; it keeps
   only (row, risk, p_complaint) of the allowed rows (24 bytes per row);
2. the campaign budget (``max_contacts``, ``max_expected_complaints``) and ``rank`` need the
   whole file: the kept arrays are sorted once, least risky first;
3. pass two streams the temporary file, fills ``rank`` and ``BUDGET_EXHAUSTED``, appends the
   final decisions to the audit log (hashed numbers) and writes the output.

"""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from serving.domain.decision import Allocation, Tally, allocate_budget
from serving.domain.reasons import budget_reason, reason_dict

CONTACT_COLUMNS = (
    "number", "channel", "purpose", "dial_mode", "subject", "campaign_id", "at",
    "address_region", "live_agent_guaranteed", "ref",
)  # fmt: skip
OUTPUT_COLUMNS = (
    "row", "ref", "number", "decision", "reason_codes", "reasons", "p_complaint", "p_opt_out",
    "risk", "rank", "next_allowed_at", "region", "subdivision", "at", "model_version",
    "rules_version",
)  # fmt: skip
DEFAULT_CHUNK = 20_000


#: Rows per write of the second pass (decisions file and audit log).
SECOND_PASS_BATCH = 50_000


class BadRow(ValueError):
    """A row breaks the contact contract; the message names file, row and field."""


# ----------------------------------------------------------------------------- reading
def parquet_files(path: Path) -> list[Path]:
    """The Parquet files of a file or a folder, in the order their rows are numbered."""
    return [path] if path.is_file() else sorted(p for p in path.rglob("*.parquet") if p.is_file())


def is_parquet(path: Path) -> bool:
    """A Parquet file, or a folder of them (a dataset)."""
    return path.is_dir() or path.suffix.lower() == ".parquet"


def count_rows(path: Path) -> int | None:
    """Rows in the file (Parquet metadata, or newlines of a CSV minus the header)."""
    if is_parquet(path):
        import pyarrow.parquet as pq

        return sum(pq.ParquetFile(f).metadata.num_rows for f in parquet_files(path))
    lines = 0
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            lines += block.count(b"\n")
    return max(lines - 1, 0)


def read_chunks(path: Path, size: int) -> Iterator[Any]:
    """DataFrames of at most ``size`` rows, every column of a CSV as text (values are
    validated by the contract, not guessed by a parser). A folder: its Parquet files in
    name order, rows numbered on from one file to the next."""
    import pandas as pd

    if is_parquet(path):
        import pyarrow.parquet as pq

        for file in parquet_files(path):
            for batch in pq.ParquetFile(file).iter_batches(batch_size=size):
                yield batch.to_pandas()
        return
    yield from pd.read_csv(path, chunksize=size, dtype=str, keep_default_na=False)


def _row_dict(record: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in record.items():
        if key not in CONTACT_COLUMNS:
            continue
        if value is None or (isinstance(value, float) and math.isnan(value)) or value == "":
            continue
        if key == "live_agent_guaranteed" and isinstance(value, str):
            value = value.strip().lower() in ("1", "true", "yes", "y")
        elif hasattr(value, "isoformat"):
            value = value.isoformat()
        out[key] = value
    return out


def _read_number(record: dict[str, Any], default_region: str | None) -> None:
    """A national-format number read in the row's ``region`` column (else
    ``default_region``) becomes E.164 in place, as a request's ``default_region`` reads it."""
    from serving.pipeline.regions import with_default_region

    region = record.get("region") or default_region
    if isinstance(region, str) and region.strip():
        record.update(with_default_region([record], region.strip().upper())[0])


def _first_error(exc: Any) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err.get("loc", ())) or "row"
    return f"field {loc}: {err.get('msg', 'invalid')}"


# ----------------------------------------------------------------------------- policy
def load_policy(path: Path | None) -> Any:
    """A :class:`Policy` from a YAML/JSON file; errors name the file and the key."""
    import yaml
    from pydantic import ValidationError

    from serving.domain.decision import Policy

    if path is None:
        return Policy()
    try:
        data = yaml.safe_load(path.read_text()) or {}
        return Policy.model_validate(data)
    except ValidationError as exc:
        raise SystemExit(f"{path}: {_first_error(exc)}") from exc
    except (OSError, yaml.YAMLError) as exc:
        raise SystemExit(f"{path}: {exc}") from exc


# ----------------------------------------------------------------------------- screening
@functools.cache
def decisions_schema() -> Any:
    """The columns of the decisions (the first pass's files and the output), fixed so that
    files written by different chunks or partitions line up."""
    import pyarrow as pa

    types = {"row": pa.int64(), "rank": pa.int64(), "p_complaint": pa.float64(),
             "p_opt_out": pa.float64(), "risk": pa.float64()}  # fmt: skip
    return pa.schema([(name, types.get(name, pa.string())) for name in OUTPUT_COLUMNS])


@dataclass
class ChunkDecisions:
    """The first pass over one chunk of rows: the decisions of its valid rows (``rank``
    still -1), what the budget needs of the allowed ones, and the rows that broke the
    contract (``(row, error)``, the message without the file)."""

    table: Any  # pyarrow.Table in decisions_schema()
    allowed_rows: Any  # np.ndarray of int64: rows of the allowed contacts
    allowed_risk: Any  # np.ndarray of float64
    allowed_pc: Any  # np.ndarray of float64: their p_complaint
    rejects: list[tuple[int, str]]
    model: str | None = None
    rules: str | None = None


def screen_chunk(
    frame: Any,
    first_row: int,
    screener: Any,
    thresholds: Any,
    now: dt.datetime,
    default_region: str | None = None,
) -> ChunkDecisions:
    """Validate, decide and tabulate one chunk of a campaign (every column as text); row
    ``i`` of ``frame`` is file row ``first_row + i``. Rules and the risk thresholds only: the
    budget and the rank need the whole file (:func:`apply_budget`). Both engines of
    ``contactgate screen`` call this on every chunk they read."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    from pydantic import ValidationError

    from features.phone import normalize
    from serving.domain.contract import ContactIn

    items: list[ContactIn] = []
    rows: list[int] = []
    rejects: list[tuple[int, str]] = []
    for offset, record in enumerate(frame.to_dict("records")):
        _read_number(record, default_region)
        row = first_row + offset
        try:
            items.append(ContactIn.model_validate(_row_dict(record)))
            rows.append(row)
        except ValidationError as exc:
            rejects.append((row, _first_error(exc)))
    if not items:
        empty = np.zeros(0)
        return ChunkDecisions(
            decisions_schema().empty_table(), empty.astype(np.int64), empty, empty, rejects
        )
    planned = [it.to_contact(now, normalize(it.number)) for it in items]
    outcome = screener.decide_contacts(
        planned, thresholds, 0, raw_numbers=[it.number for it in items]
    )
    results = outcome.results
    chunk = pd.DataFrame(
        {
            "row": np.asarray(rows, dtype=np.int64),
            "ref": [r.ref for r in results],
            "number": [r.number for r in results],
            "decision": [r.decision for r in results],
            "reason_codes": [";".join(x.code for x in r.reasons) for r in results],
            "reasons": [json.dumps([reason_dict(x) for x in r.reasons]) for r in results],
            "p_complaint": [r.p_complaint for r in results],
            "p_opt_out": [r.p_opt_out for r in results],
            "risk": [r.risk for r in results],
            "rank": np.full(len(results), -1, dtype=np.int64),
            "next_allowed_at": [
                r.next_allowed_at.isoformat() if r.next_allowed_at else None for r in results
            ],
            "region": [r.region for r in results],
            "subdivision": [r.subdivision for r in results],
            "at": [c.at.isoformat() for c in planned],
            "model_version": [outcome.model.version] * len(results),
            "rules_version": [outcome.rules_version] * len(results),
        }
    ).astype({"p_complaint": "float64", "p_opt_out": "float64", "risk": "float64"})
    is_allowed = (chunk["decision"] == "allow").to_numpy()
    return ChunkDecisions(
        table=pa.Table.from_pandas(chunk, schema=decisions_schema(), preserve_index=False),
        allowed_rows=chunk["row"].to_numpy()[is_allowed],
        allowed_risk=chunk["risk"].to_numpy()[is_allowed],
        allowed_pc=chunk["p_complaint"].to_numpy()[is_allowed],
        rejects=rejects,
        model=outcome.model.version,
        rules=outcome.rules_version,
    )


def first_row_of(path: Path) -> int:
    """The file row of a file's first record: 2 in a CSV (row 1 is the header), else 1."""
    return 2 if path.suffix.lower() == ".csv" else 1


def screen_file(
    path: Path,
    output: Path,
    screener: Any,
    policy: Any,
    *,
    chunk_size: int = DEFAULT_CHUNK,
    default_at: dt.datetime | None = None,
    skip_invalid: bool = False,
    audit: bool = True,
    progress: Any = None,
    write_batch: int = SECOND_PASS_BATCH,
    default_region: str | None = None,
) -> dict[str, Any]:
    """Screen ``path`` into ``output`` in two streaming passes; return the summary.

    ``write_batch``: rows per write of the second pass (decisions file and audit log).
    ``default_region``: the country of national-format numbers in rows without a
    ``region`` column value (numbers are read as :func:`features.io.normalise_numbers`
    reads files: a valid one becomes E.164, an invalid one stays as given and is withheld
    ``INVALID_NUMBER``)."""
    import numpy as np
    import pyarrow.parquet as pq

    from serving.domain.decision import Policy

    thresholds = Policy(review_above=policy.review_above, withhold_above=policy.withhold_above)
    now = default_at or screener.now()
    temp = output.with_name(f".{output.name}.{uuid.uuid4().hex[:8]}.pass1.parquet")
    allowed_rows: list[np.ndarray] = []
    allowed_risk: list[np.ndarray] = []
    allowed_pc: list[np.ndarray] = []
    rejects: list[tuple[int, str]] = []
    row = first_row_of(path)
    writer = None
    try:
        for frame in read_chunks(path, chunk_size):
            part = screen_chunk(frame, row, screener, thresholds, now, default_region)
            if part.rejects and not skip_invalid:
                raise BadRow(f"{path}: row {part.rejects[0][0]}: {part.rejects[0][1]}")
            rejects.extend(part.rejects)
            row += len(frame)
            if part.table.num_rows:
                allowed_rows.append(part.allowed_rows)
                allowed_risk.append(part.allowed_risk)
                allowed_pc.append(part.allowed_pc)
                if writer is None:
                    writer = pq.ParquetWriter(temp, decisions_schema())
                writer.write_table(part.table)
            if progress is not None:
                progress(len(frame))
        if writer is not None:
            writer.close()
            writer = None
        budget = _select(
            np.concatenate(allowed_rows) if allowed_rows else np.zeros(0, np.int64),
            np.concatenate(allowed_risk) if allowed_risk else np.zeros(0),
            np.concatenate(allowed_pc) if allowed_pc else np.zeros(0),
            policy,
        )
        summary = _second_pass(temp, output, budget, screener, audit, write_batch)
        summary["model"] = screener.resources.model_ref().model_dump()
        summary["rules_version"] = screener.resources.rules_version
    finally:
        if writer is not None:
            writer.close()
        temp.unlink(missing_ok=True)
    return summary | write_rejects(rejects, output)


def write_rejects(rejects: list[tuple[int, str]], output: Path) -> dict[str, Any]:
    """``OUTPUT.rejects.csv`` (row, error) when rows were rejected; the summary's part."""
    import pandas as pd

    out: dict[str, Any] = {"rejected_rows": len(rejects)}
    if rejects:
        path = output.with_name(output.name + ".rejects.csv")
        pd.DataFrame(rejects, columns=["row", "error"]).to_csv(path, index=False)
        out["rejects_file"] = str(path)
    return out


def _select(rows: Any, risk: Any, p_complaint: Any, policy: Any) -> Allocation:
    """Rank allowed rows least risky first and apply the budget, as :func:`decide` does."""
    import numpy as np

    order = np.lexsort((rows, risk))
    return allocate_budget(((int(rows[i]), float(p_complaint[i])) for i in order), policy)


def apply_budget(frame: Any, budget: Allocation, tally: Tally) -> Any:
    """The second pass over a frame of first-pass decisions (file rows in ``row``): fill
    ``rank`` and the ``BUDGET_EXHAUSTED`` withholds from the whole file's ``budget``, count
    the decisions into ``tally``; returns the frame (changed in place)."""
    decisions = frame["decision"].tolist()
    codes = frame["reason_codes"].tolist()
    reasons = frame["reasons"].tolist()
    ranks = frame["rank"].tolist()
    for i, row in enumerate(frame["row"].tolist()):
        if decisions[i] != "allow":
            continue
        if row in budget.withheld:
            reason = reason_dict(budget_reason(budget.withheld[row]))
            decisions[i] = "withhold"
            codes[i] = reason["code"]
            reasons[i] = json.dumps([reason])
        else:
            ranks[i] = budget.rank.get(row, -1)
    frame["decision"] = decisions
    frame["reason_codes"] = codes
    frame["reasons"] = reasons
    frame["rank"] = [None if r is None or r < 0 else int(r) for r in ranks]
    frame["rank"] = frame["rank"].astype("Int64")
    for decision, text in zip(decisions, codes, strict=True):
        tally.add(decision, text.split(";") if text else ())
    return frame


def audit_decisions(store: Any, frame: Any, run_id: str) -> None:
    """Append a frame of final decisions to the audit log, each row keyed by the run and its
    file row: writing the same rows again (a retried partition) adds nothing."""
    store.append_decisions(
        [
            {
                "number": n,
                "decision": d,
                "reasons": json.loads(r),
                "model_version": m,
                "rules_version": v,
                "at": dt.datetime.fromisoformat(a),
                "request_id": f"batch-{run_id}",
                "endpoint": "batch",
                "audit_key": f"{run_id}:{row}",
            }  # fmt: skip
            for row, n, d, r, a, m, v in zip(
                frame["row"].tolist(),
                frame["number"],
                frame["decision"],
                frame["reasons"],
                frame["at"],
                frame["model_version"],
                frame["rules_version"],
                strict=True,
            )  # fmt: skip
        ]
    )


class DecisionsWriter:
    """The output file (CSV or Parquet), written frame by frame into a temporary sibling
    that :meth:`commit` renames over the output: a run that fails half-way leaves no
    decisions file (in particular none with unaudited allows)."""

    def __init__(self, output: Path) -> None:
        output.parent.mkdir(parents=True, exist_ok=True)
        self.final = output
        self.path = output.with_name(f".{output.name}.{uuid.uuid4().hex[:8]}.partial")
        self.as_parquet = output.suffix.lower() == ".parquet"
        self._parquet: Any = None
        self._first = True

    def write(self, frame: Any) -> None:
        if self.as_parquet:
            import pyarrow as pa
            import pyarrow.parquet as pq

            schema = decisions_schema()
            if self._parquet is None:
                self._parquet = pq.ParquetWriter(self.path, schema)
            self._parquet.write_table(
                pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
            )
        else:
            frame.to_csv(self.path, mode="w" if self._first else "a", header=self._first,
                         index=False)  # fmt: skip
        self._first = False

    def commit(self) -> None:
        if self._parquet is not None:
            self._parquet.close()
            self._parquet = None
        if self._first and not self.as_parquet:
            self.path.write_text(",".join(OUTPUT_COLUMNS) + "\n")
        if self._first and self.as_parquet:
            import pyarrow.parquet as pq

            pq.write_table(decisions_schema().empty_table(), self.path)
        self.path.replace(self.final)

    def discard(self) -> None:
        if self._parquet is not None:
            self._parquet.close()
        self.path.unlink(missing_ok=True)


def _second_pass(
    temp: Path,
    output: Path,
    budget: Allocation,
    screener: Any,
    audit: bool,
    write_batch: int = SECOND_PASS_BATCH,
) -> dict[str, Any]:
    import pyarrow.parquet as pq

    tally = Tally()
    run_id = uuid.uuid4().hex
    store = screener.resources.store
    writer = DecisionsWriter(output)
    try:
        if temp.exists():
            for batch in pq.ParquetFile(temp).iter_batches(batch_size=write_batch):
                frame = apply_budget(batch.to_pandas(), budget, tally)
                if audit and store is not None:
                    audit_decisions(store, frame, run_id)
                writer.write(frame)
        writer.commit()
    finally:
        writer.discard()
    return tally.summary(budget.expected_complaints)
