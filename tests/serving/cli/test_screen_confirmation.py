"""``contactgate screen`` on a campaign file holding opt-out confirmations: the batch decides
them as the API does (one text within 5 minutes of the STOP in the store, by SMS)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from serving.cli import main
from serving.store import Store
from tests.support.models import champion_store

NUMBER = "+12125550181"  # fictional 555-01xx, New York
STOP_AT = dt.datetime(2026, 6, 17, 3, 30, tzinfo=dt.UTC)  # 23:30 in New York


def _at(seconds: int) -> str:
    return (STOP_AT + dt.timedelta(seconds=seconds)).isoformat()


def test_screen_file_with_confirmations(
    tmp_path: Path, sqlite_url: str, store_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    with Store.open(sqlite_url) as store:
        store.record_events([{"event_id": "stop-1", "number": NUMBER, "ts": STOP_AT,
                              "kind": "reply", "text": "Stop please"}])  # fmt: skip
    campaign = tmp_path / "campaign.csv"
    campaign.write_text(
        "ref,number,channel,purpose,at\n"
        f"in-window,{NUMBER},sms,opt_out_confirmation,{_at(299)}\n"
        f"at-5-min,{NUMBER},sms,opt_out_confirmation,{_at(300)}\n"
        f"by-voice,{NUMBER},call,opt_out_confirmation,{_at(60)}\n"
        f"marketing,{NUMBER},sms,marketing,{_at(60)}\n"
        f"no-opt-out,+12125550182,sms,opt_out_confirmation,{_at(60)}\n"
    )
    out = tmp_path / "decisions.csv"
    argv = ["screen", str(campaign), "-o", str(out), "--db-url", sqlite_url,
            "--tracking-uri", champion_store().tracking_uri, "--no-progress"]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    frame = pd.read_csv(out, dtype=str, keep_default_na=False).set_index("ref")
    assert frame.loc["in-window", "decision"] == "allow", frame.loc["in-window"].to_dict()
    for ref in ("at-5-min", "by-voice", "no-opt-out"):
        assert frame.loc[ref, "decision"] == "withhold"
        assert frame.loc[ref, "reason_codes"] == "CONFIRMATION_NOT_ALLOWED"
    assert frame.loc["marketing", "decision"] == "withhold"
    assert "CONSENT_REVOKED" in frame.loc["marketing", "reason_codes"]
