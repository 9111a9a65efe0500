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
import json
import math
import uuid
from collections.abc import Iterator
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
def count_rows(path: Path) -> int | None:
    """Rows in the file (Parquet metadata, or newlines of a CSV minus the header)."""
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    lines = 0
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            lines += block.count(b"\n")
    return max(lines - 1, 0)


def read_chunks(path: Path, size: int) -> Iterator[Any]:
    """DataFrames of at most ``size`` rows, every column as text (values are validated
    by the contract, not guessed by a parser)."""
    import pandas as pd

    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(path).iter_batches(batch_size=size):
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
    import pandas as pd
    from pydantic import ValidationError

    from features.phone import normalize
    from serving.domain.contract import ContactIn
    from serving.domain.decision import Policy

    thresholds = Policy(review_above=policy.review_above, withhold_above=policy.withhold_above)
    now = default_at or screener.now()
    temp = output.with_name(f".{output.name}.{uuid.uuid4().hex[:8]}.pass1.parquet")
    rejects_path = output.with_name(output.name + ".rejects.csv")
    allowed_rows: list[np.ndarray] = []
    allowed_risk: list[np.ndarray] = []
    allowed_pc: list[np.ndarray] = []
    rejects: list[dict[str, Any]] = []
    row_base = 0
    writer = None
    meta: dict[str, Any] = {}
    import pyarrow as pa
    import pyarrow.parquet as pq

    from serving.pipeline.resources import ChunkedCollection

    heap = ChunkedCollection()  # full collector passes between chunks only
    try:
        for frame in read_chunks(path, chunk_size):
            items: list[ContactIn] = []
            rows: list[int] = []
            for offset, record in enumerate(frame.to_dict("records")):
                _read_number(record, default_region)
                row = (
                    row_base + offset + 2
                    if path.suffix.lower() == ".csv"
                    else row_base + offset + 1
                )
                try:
                    items.append(ContactIn.model_validate(_row_dict(record)))
                    rows.append(row)
                except ValidationError as exc:
                    message = f"{path}: row {row}: {_first_error(exc)}"
                    if not skip_invalid:
                        raise BadRow(message) from exc
                    rejects.append({"row": row, "error": _first_error(exc)})
            row_base += len(frame)
            if items:
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
                        "reasons": [
                            json.dumps([reason_dict(x) for x in r.reasons]) for r in results
                        ],
                        "p_complaint": [r.p_complaint for r in results],
                        "p_opt_out": [r.p_opt_out for r in results],
                        "risk": [r.risk for r in results],
                        "rank": np.full(len(results), -1, dtype=np.int64),
                        "next_allowed_at": [
                            r.next_allowed_at.isoformat() if r.next_allowed_at else None
                            for r in results
                        ],
                        "region": [r.region for r in results],
                        "subdivision": [r.subdivision for r in results],
                        "at": [c.at.isoformat() for c in planned],
                        "model_version": [outcome.model.version] * len(results),
                        "rules_version": [outcome.rules_version] * len(results),
                    }
                ).astype({"p_complaint": "float64", "p_opt_out": "float64", "risk": "float64"})
                is_allowed = (chunk["decision"] == "allow").to_numpy()
                allowed_rows.append(chunk["row"].to_numpy()[is_allowed])
                allowed_risk.append(chunk["risk"].to_numpy()[is_allowed])
                allowed_pc.append(chunk["p_complaint"].to_numpy()[is_allowed])
                table = pa.Table.from_pandas(chunk, preserve_index=False)
                if writer is None:
                    writer = pq.ParquetWriter(temp, table.schema)
                writer.write_table(table.cast(writer.schema))
                meta = {
                    "model": outcome.model.version,
                    "rules": outcome.rules_version,
                }
            if progress is not None:
                progress(len(frame))
            heap.after_chunk()
        if writer is not None:
            writer.close()
            writer = None
        budget = _select(
            np.concatenate(allowed_rows) if allowed_rows else np.zeros(0, np.int64),
            np.concatenate(allowed_risk) if allowed_risk else np.zeros(0),
            np.concatenate(allowed_pc) if allowed_pc else np.zeros(0),
            policy,
        )
        summary = _second_pass(temp, output, budget, screener, audit, meta, write_batch)
        summary["model"] = screener.resources.model_ref().model_dump()
        summary["rules_version"] = screener.resources.rules_version
    finally:
        if writer is not None:
            writer.close()
        temp.unlink(missing_ok=True)
        heap.close()
    summary["rejected_rows"] = len(rejects)
    if rejects:
        pd.DataFrame(rejects).to_csv(rejects_path, index=False)
        summary["rejects_file"] = str(rejects_path)
    return summary


def _select(rows: Any, risk: Any, p_complaint: Any, policy: Any) -> Allocation:
    """Rank allowed rows least risky first and apply the budget, as :func:`decide` does."""
    import numpy as np

    order = np.lexsort((rows, risk))
    return allocate_budget(((int(rows[i]), float(p_complaint[i])) for i in order), policy)


def _second_pass(
    temp: Path,
    output: Path,
    budget: Allocation,
    screener: Any,
    audit: bool,
    meta: dict[str, Any],
    write_batch: int = SECOND_PASS_BATCH,
) -> dict[str, Any]:
    import pyarrow.parquet as pq

    tally = Tally()
    request_id = f"batch-{uuid.uuid4().hex}"
    store = screener.resources.store
    output.parent.mkdir(parents=True, exist_ok=True)
    as_parquet = output.suffix.lower() == ".parquet"
    writer = None
    first = True
    if not temp.exists():
        if not as_parquet:
            output.write_text(",".join(OUTPUT_COLUMNS) + "\n")
        return tally.summary(budget.expected_complaints)
    # Decisions go to a temporary sibling, renamed over ``output`` only once every audit
    # row is written: a failure half-way leaves no decisions file with unaudited allows.
    final, output = output, output.with_name(f".{output.name}.{uuid.uuid4().hex[:8]}.partial")
    try:
        for batch in pq.ParquetFile(temp).iter_batches(batch_size=write_batch):
            frame = batch.to_pandas()
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
            if audit and store is not None:
                store.append_decisions(
                    [
                        {
                            "number": n,
                            "decision": d,
                            "reasons": json.loads(r),
                            "model_version": meta.get("model"),
                            "rules_version": meta.get("rules"),
                            "at": dt.datetime.fromisoformat(a),
                            "request_id": request_id,
                            "endpoint": "batch",
                        }  # fmt: skip
                        for n, d, r, a in zip(
                            frame["number"], decisions, reasons, frame["at"], strict=True
                        )
                    ]
                )
            if as_parquet:
                import pyarrow as pa

                table = pa.Table.from_pandas(frame, preserve_index=False)
                if writer is None:
                    writer = pq.ParquetWriter(output, table.schema)
                writer.write_table(table)
            else:
                frame.to_csv(output, mode="w" if first else "a", header=first, index=False)
            first = False
        if writer is not None:
            writer.close()
            writer = None
        output.replace(final)
    finally:
        if writer is not None:
            writer.close()
        output.unlink(missing_ok=True)
    return tally.summary(budget.expected_complaints)
