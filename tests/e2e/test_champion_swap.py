"""The running service follows the champion: promote while a real ``contactgate serve``
subprocess answers requests; the next decisions name the new version without a restart,
and no request fails or is withheld ``SYSTEM_UNAVAILABLE`` during the swap."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_service_e2e import AT
from tests.support.models import champion_store_copy, register_bundle, set_champion
from tests.support.server import AUTH, Server

pytestmark = pytest.mark.e2e

SWAP_TIMEOUT_S = 90


def test_promoted_champion_is_served_without_a_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = champion_store_copy(tmp_path / "registry")
    monkeypatch.setenv("CONTACTGATE_MODEL_POLL_S", "1")
    server = Server.on_new_sqlite_store(tmp_path, registry.tracking_uri)
    answers: list[tuple[float, int, str | None, list[str]]] = []
    stop = threading.Event()

    def hammer() -> None:
        body = {
            "contacts": [
                {"number": "+13055550170", "channel": "call", "at": AT},
                {"number": "+12125550111", "channel": "sms", "at": AT},
            ]
        }
        with httpx.Client(base_url=server.url, timeout=60) as client:
            while not stop.is_set():
                response = client.post("/screen", json=body, headers=AUTH["campaign"])
                data = response.json() if response.status_code == 200 else {}
                codes = [reason["code"] for r in data.get("results", []) for reason in r["reasons"]]
                version = data.get("model", {}).get("version")
                answers.append((time.monotonic(), response.status_code, version, codes))

    try:
        server.wait_ready()
        ready = server.http.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["model"] == {
            "name": "contact-risk", "version": registry.version, "alias": "champion"
        }  # fmt: skip
        assert ready.json()["rules_version"]
        worker = threading.Thread(target=hammer, daemon=True)
        worker.start()
        time.sleep(2)
        second = register_bundle(registry.tracking_uri, registry.directory / "bundle")
        set_champion(registry.tracking_uri, second)
        promoted_at = time.monotonic()
        deadline = promoted_at + SWAP_TIMEOUT_S
        while time.monotonic() < deadline and not any(a[2] == second for a in answers):
            time.sleep(0.2)
        time.sleep(2)  # and a little after the swap
        stop.set()
        worker.join(60)
        log = server.log_text()
        assert any(a[2] == second for a in answers), log[-3000:]
        assert all(status == 200 for _, status, _, _ in answers), answers
        assert not any("SYSTEM_UNAVAILABLE" in codes for *_, codes in answers)
        versions = [v for _, _, v, _ in answers]
        first_new = versions.index(second)
        assert set(versions[:first_new]) == {registry.version}
        assert set(versions[first_new:]) == {second}  # never back to the old one
        assert f"champion changed: contact-risk version {registry.version} → {second}" in log
        assert server.http.get("/readyz").json()["model"]["version"] == second
        swap_s = next(t for t, _, v, _ in answers if v == second) - promoted_at
        print(f"\nswap: {len(answers)} requests, first decision by v{second} {swap_s:.1f} s "
              f"after promotion (poll 1 s), {versions.count(second)} after it")  # fmt: skip
    finally:
        stop.set()
        server.stop()
