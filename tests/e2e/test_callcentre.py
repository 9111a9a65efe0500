"""A call centre's own export, end to end, as a new user would run it: the hand-made dataset
under tests/data/callcentre (national-format numbers in three countries, a region column,
enum values in any case, an extra column, STOP replies in English and French, a few messy
rows) through validate → features → train → promote → store load → screen.

Nothing here is simulated: the model it trains is weak (a few dozen complaints), and the
test checks that the commands say so instead of pretending otherwise.
"""

from __future__ import annotations

import re
from pathlib import Path

import mlflow
import pandas as pd
import pytest

from features.io import load_events
from serving.cli import main

DATA = Path(__file__).resolve().parents[1] / "data" / "callcentre"


@pytest.mark.slow
def test_a_call_centre_export_end_to_end(
    tmp_path: Path, store_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    events, consent, campaign = DATA / "events.csv", DATA / "consent.csv", DATA / "campaign.csv"

    # validate: the messy rows are named (file, row, field), nothing else is
    assert main(["validate", "events", str(events)]) == 1
    out = capsys.readouterr().out
    assert "6 invalid row(s)" in out
    assert "number '07700 900461' is not a valid phone number" in out
    assert "duration_s '-5' must be ≥ 0" in out
    assert re.search(r"event_id 'CRM-000012' repeats the event_id of row 12 ", out)
    clean = tmp_path / "clean" / "events.parquet"
    assert main(["validate", "events", str(events), "--skip-invalid", "-o", str(clean)]) == 0
    out = capsys.readouterr().out
    assert "3 with an invalid number" in out and "['agent_id']" in out
    assert "1 row(s) repeat an earlier row exactly" in out
    assert pd.read_csv(clean.with_name("events.rejects.csv"))["row"].nunique() == 6
    assert main(["validate", "consent", str(consent)]) == 0  # semicolons, sniffed
    capsys.readouterr()

    # features: one history per person, whatever format the agents typed the number in
    frame_path = tmp_path / "frame.parquet"
    argv = ["features", "--events", str(events), "--consent", str(consent), "--skip-invalid",
            "--out", str(frame_path)]  # fmt: skip
    assert main(argv) == 0
    capsys.readouterr()
    frame = pd.read_parquet(frame_path)
    raw = pd.read_csv(events, dtype=str, keep_default_na=False)
    typed = load_events(events, skip_invalid=True).frame
    assert frame["number"].str.match(r"^\+\d{8,15}$").all()  # never a raw key
    assert frame["number"].nunique() == typed.loc[typed["kind"] == "contact", "number"].nunique()
    assert (
        frame["number"].nunique()
        < raw.loc[raw["kind"].str.lower() == "contact", "number"].nunique()
    )

    # train: the default slices hold too few complaints; the message says which and what to do
    tracking = f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}"
    train = ["train", "--events", str(DATA), "--skip-invalid", "--tracking-uri", tracking]
    assert main(train) != 0
    err = capsys.readouterr().err
    found = re.search(
        r"(complaint_7d|opt_out_7d) in the (train|early_stopping|calibration|test) slice: "
        r"(\d+) positive\(s\) among ([\d,]+) contacts \(minimum 10",
        err,
    )
    assert found and int(found.group(3)) < 10, err
    assert "--allow-small" in err and "warmup_days" in err
    config = tmp_path / "wide.yaml"
    config.write_text("split: {train: 0.5, early_stopping: 0.15, calibration: 0.15, test: 0.2}\n")
    assert main([*train, "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "split by contact time: warm-up" in out
    for name in ("train", "early_stopping", "calibration", "test"):
        assert re.search(rf"{name}\s+[\d,]+ contacts .* positives: complaint_7d \d+", out), name
    assert "Model − baseline, paired bootstrap 95 % interval" in out
    assert "min_child_samples" in out  # scaled down to the data

    # promote: gated like any model; the gate list decides, --force overrides and is recorded
    assert main(["promote", "--tracking-uri", tracking]) == 0
    out = capsys.readouterr().out
    gates = re.findall(r"\[(pass|FAIL)\] (.+?):", out)
    assert len(gates) == 6, out  # 3 gates × 2 targets
    mlflow.set_tracking_uri(tracking)
    client = mlflow.MlflowClient()
    champion = client.get_registered_model("contact-risk").aliases.get("champion")
    if all(verdict == "pass" for verdict, _ in gates):
        assert "promoted contact-risk v1" in out and champion == "1"
    else:
        assert "not promoted" in out and champion is None
        for verdict, name in gates:
            if verdict == "FAIL":
                assert name in out.split("not promoted")[1]
        assert main(["promote", "--tracking-uri", tracking, "--force"]) == 0
        assert "recorded on the version" in capsys.readouterr().out
        tags = client.get_model_version("contact-risk", "1").tags
        assert "promotion_forced" in tags and "[FAIL]" in tags["promotion_gates"]
    run = client.get_run(client.get_model_version("contact-risk", "1").run_id)
    description = run.data.tags["mlflow.note.content"]
    assert "positives: complaint_7d" in description and "Promotion: " in description
    assert "not decided yet" not in description

    # store load: the same numbers as training (E.164 through the region column)
    db = f"sqlite:///{tmp_path / 'store.db'}"
    assert main(["store", "load", str(events), "--record", "events", "--skip-invalid",
                 "--db-url", db, "--no-progress"]) == 0  # fmt: skip
    assert main(["store", "load", str(consent), "--record", "consent", "--db-url", db,
                 "--no-progress"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "refused by the store" in out and re.search(r"refused by the store\s+│\s+0", out)

    # store export: the history comes back out as a contract file that trains the same way
    exported = {record: tmp_path / "export" / f"{record}.csv" for record in ("events", "consent")}
    for record, path in exported.items():
        assert main(["store", "export", "--record", record, "--out", str(path),
                     "--db-url", db, "--no-progress"]) == 0  # fmt: skip
    again = tmp_path / "frame-again.parquet"
    assert main(["features", "--events", str(exported["events"]), "--consent",
                 str(exported["consent"]), "--out", str(again)]) == 0  # fmt: skip
    capsys.readouterr()
    before = frame.sort_values("event_id").reset_index(drop=True)
    after = pd.read_parquet(again).sort_values("event_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(before, after[before.columns], check_dtype=False)

    # screen: national US numbers read with --default-region; without it they are invalid
    decisions = tmp_path / "decisions.csv"
    screen = ["screen", str(campaign), "-o", str(decisions), "--db-url", db,
              "--tracking-uri", tracking, "--no-progress", "--at", "2026-09-03T15:00:00Z"]  # fmt: skip
    assert main(screen) == 0
    without = pd.read_csv(decisions)
    assert (without["reason_codes"] == "INVALID_NUMBER").all()
    assert main([*screen, "--default-region", "US"]) == 0
    capsys.readouterr()
    decided = pd.read_csv(decisions, dtype={"number": str, "ref": str})
    assert not decided["reason_codes"].fillna("").str.contains("INVALID_NUMBER").any()
    assert decided["p_complaint"].between(0, 1).all()  # the champion scored every row
    # people who said STOP (or opted out on a call) in the export are withheld for it
    # (the export's opt-outs were said on calls: their scope is calls)
    opted = set(typed.loc[typed["kind"] == "opt_out", "number"])
    channel = pd.read_csv(campaign).set_index("ref")["channel"]
    calls = decided[decided["ref"].map(channel) == "call"]
    stopped = calls[calls["number"].isin(opted)]
    assert len(stopped) > 0
    assert stopped["reason_codes"].str.contains("CONSENT_REVOKED").all()
