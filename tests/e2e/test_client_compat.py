"""Integrating from the contract alone, as a campaign tool's developer would: fetch the
served ``/docs.json`` of a real ``contactgate serve``, validate it, generate a client with an
independent generator (``openapi-python-client``), and call every API with that client —
screen; authorize (an allow, a withhold with ``next_allowed_at``, a withhold without); every
write; subject_report and erase_subject — parsing every answer, nulls included. The project's
own client (:mod:`serving.client`) and the docs' example run against the same server.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.models import champion_store
from tests.support.server import AUTH, KEYS, Server

pytestmark = pytest.mark.e2e

AT = "2026-06-16T14:00:00Z"  # Tue 10:00 in Florida
NIGHT = "2026-06-16T00:15:00Z"  # Mon 20:15 in Florida: quiet hours until 08:00
LISTED = "+13055550199"
PACKAGE = "contactgate_generated"


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    running = Server.on_new_sqlite_store(
        tmp_path_factory.mktemp("compat"), champion_store().tracking_uri
    )
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def generated(server, tmp_path_factory):
    """The served document, validated, and the package generated from it (imported)."""
    from openapi_spec_validator import validate

    out = tmp_path_factory.mktemp("generated")
    response = server.http.get("/docs.json", headers=AUTH["reviewer"])
    assert response.status_code == 200
    validate(response.json())
    (out / "docs.json").write_bytes(response.content)
    bin_dir = Path(sys.executable).parent
    run = subprocess.run(
        [str(bin_dir / "openapi-python-client"), "generate", "--path", str(out / "docs.json"),
         "--output-path", str(out / PACKAGE), "--meta", "none"],
        capture_output=True, text=True, timeout=300,
        env=os.environ | {"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"},
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    # the generator's only warnings may be about its post-generation formatting hooks
    warnings = [ln for ln in run.stdout.splitlines() if "Warning" in ln or "Unable" in ln]
    assert all("Warning(s) encountered" in w for w in warnings), run.stdout
    assert "Unable to" not in run.stdout and "Cannot" not in run.stdout, run.stdout
    sys.path.insert(0, str(out))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(out))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def _api(package, tag: str, name: str):
    return importlib.import_module(f"{package.__name__}.api.{tag}.{name}")


def _models(package):
    return importlib.import_module(f"{package.__name__}.models")


def _call(package, server, role: str, tag: str, name: str, body, expected: str):
    """One call through the generated client; the answer must parse into ``expected``."""
    client_module = importlib.import_module(f"{package.__name__}.client")
    client = client_module.AuthenticatedClient(
        base_url=server.url, token=KEYS[role], raise_on_unexpected_status=True, timeout=None
    )
    with client:
        response = _api(package, tag, name).sync_detailed(client=client, body=body)
    raw = json.loads(response.content)
    parsed = response.parsed
    assert type(parsed).__name__ == expected, (name, response.status_code, raw)
    print(f"{name:<18} {int(response.status_code)} -> {expected}")  # shown with -s
    return parsed, raw


def test_generated_client_calls_every_api(server, generated) -> None:
    m = _models(generated)
    unset = importlib.import_module(f"{generated.__name__}.types").UNSET

    # ---------------- writes
    imported, _ = _call(generated, server, "operator", "writes", "registry_import",
                        m.RegistryImportRequest.from_dict({"registry": "US_NATIONAL_DNC",
                            "snapshot_at": "2026-06-15T00:00:00Z", "numbers": [LISTED, "x"]}),
                        "RegistryImportResult")  # fmt: skip
    assert imported.accepted == 1 and imported.rejected[0].index == 1
    assert isinstance(imported.snapshot_at, dt.datetime)
    # Florida's own do-not-call list is required by its pack too
    state, _ = _call(generated, server, "operator", "writes", "registry_import",
                     m.RegistryImportRequest.from_dict({"registry": "US_FL_DNC",
                         "snapshot_at": "2026-06-15T00:00:00Z", "numbers": ["+13055550198"]}),
                     "RegistryImportResult")  # fmt: skip
    assert state.accepted == 1
    events = m.RecordEventsRequest.from_dict({"events": [
        {"event_id": "cc-stop", "number": "+13055550181", "ts": AT, "kind": "reply",
         "text": "STOP"},
        {"event_id": "cc-call", "number": "+13055550182", "ts": "2026-06-10T14:00:00Z",
         "kind": "contact", "channel": "call", "outcome": "answered", "duration_s": 30.5}]})  # fmt: skip
    stored, _ = _call(generated, server, "operator", "writes", "record_events", events,
                      "EventsResult")  # fmt: skip
    assert stored.accepted == 2 and stored.actions[0].action.value == "opt_out"
    writes = {
        "record_consent": m.RecordConsentRequest.from_dict({"records": [
            {"consent_id": "cc-1", "number": "+13055550182", "channel": "sms",
             "type": "written", "granted_at": "2026-01-10T12:00:00Z"}]}),
        "record_preferences": m.RecordPreferencesRequest.from_dict({"records": [
            {"number": "+13055550182", "max_per_week": 3,
             "updated_at": "2026-06-01T09:00:00Z"}]}),
        "dnc_add": m.DncRequest.from_dict({"records": [
            {"number": "+13055550183", "added_at": "2026-06-16T10:00:00Z"}]}),
        "dnc_remove": m.DncRequest.from_dict({"records": [
            {"number": "+13055550184", "added_at": "2026-06-16T10:00:00Z"}]}),
        "block_period": m.BlockPeriodRequest.from_dict({"records": [
            {"region": "US-NY", "start": "2026-06-20T00:00:00-04:00",
             "end": "2026-06-21T00:00:00-04:00", "reason": "declared emergency"}]}),
    }  # fmt: skip
    for name, body in writes.items():
        result, raw = _call(generated, server, "operator", "writes", name, body, "WriteResult")
        assert result.accepted == 1 and result.rejected == [], raw

    # ---------------- screen: an allow, a registry withhold, an unparseable number (nulls)
    screen_body = m.ScreenRequest.from_dict({"contacts": [
        {"number": "+13055550185", "channel": "call", "at": AT, "ref": "a"},
        {"number": LISTED, "channel": "call", "at": AT},
        {"number": "x", "channel": "sms", "purpose": "service"}], "explain": 3})  # fmt: skip
    screened, raw = _call(generated, server, "campaign", "decisions", "screen", screen_body,
                          "ScreenResponse")  # fmt: skip
    ok, listed, bad = screened.results
    assert ok.decision.value == "allow" and ok.rank == 1 and ok.ref == "a"
    assert isinstance(ok.p_complaint, float) and len(ok.explanations) == 3
    assert "REGISTRY_LISTED" in [r.code for r in listed.reasons]
    assert bad.p_complaint is None and bad.risk is None and bad.rank is None
    assert bad.next_allowed_at is None and bad.region is None
    assert raw["results"][2]["next_allowed_at"] is None  # a real null, parsed
    assert screened.model.alias == "champion" and screened.summary.allow == 1

    # ---------------- authorize: an allow; a withhold with next_allowed_at; one without
    def authorize(number: str, at: str, attempt: str):
        body = m.AuthorizeRequest.from_dict(
            {"number": number, "channel": "call", "at": at, "attempt_id": attempt}
        )
        return _call(generated, server, "campaign", "decisions", "authorize", body,
                     "AuthorizeResponse")  # fmt: skip

    allowed, raw = authorize("+13055550186", AT, "cc-dial-1")
    assert allowed.decision.value == "allow" and allowed.attempt_id == "cc-dial-1"
    assert allowed.next_allowed_at is None and raw["next_allowed_at"] is None
    night, raw = authorize("+13055550186", NIGHT, "cc-dial-2")
    assert night.decision.value == "withhold" and "QUIET_HOURS" in [r.code for r in night.reasons]
    assert night.next_allowed_at == dt.datetime(2026, 6, 16, 12, 0, tzinfo=dt.UTC)
    assert isinstance(night.reasons[0].until, dt.datetime)
    refused, raw = authorize(LISTED, AT, "cc-dial-3")
    assert refused.decision.value == "withhold" and raw["next_allowed_at"] is None
    assert refused.next_allowed_at is None and refused.reasons[0].until in (None, unset)

    # ---------------- access and erasure
    report, raw = _call(generated, server, "reviewer", "privacy", "subject_report",
                        m.SubjectRequest(number="+13055550182"), "SubjectReport")  # fmt: skip
    assert report.erased_at is None and raw["erased_at"] is None and not report.suppressed
    assert len(report.events) == 1 and len(report.consent) == 1 and len(report.preferences) == 1
    erased, _ = _call(generated, server, "operator", "writes", "erase_subject",
                      m.SubjectRequest(number="+13055550182"), "ErasureResult")  # fmt: skip
    assert erased.events_deleted == 1 and isinstance(erased.erased_at, dt.datetime)
    after, _ = _call(generated, server, "reviewer", "privacy", "subject_report",
                     m.SubjectRequest(number="+13055550182"), "SubjectReport")  # fmt: skip
    assert isinstance(after.erased_at, dt.datetime) and after.suppressed

    # ---------------- error answers parse into the one error model
    error, raw = _call(generated, server, "reviewer", "privacy", "subject_report",
                       m.SubjectRequest(number="12"), "Error")  # fmt: skip
    assert error.error.code.value == "invalid_field" and error.error.field == "number"
    taken = m.AuthorizeRequest.from_dict(
        {"number": "+13055550187", "channel": "call", "at": AT, "attempt_id": "cc-stop"}
    )  # the id of a stored event
    conflict, _ = _call(generated, server, "campaign", "decisions", "authorize", taken, "Error")
    assert conflict.error.code.value == "conflict" and conflict.error.field == "attempt_id"


def test_official_client_and_the_docs_example(server) -> None:
    from serving.client import Client, ContactgateError

    contacts = [{"number": f"+1305555{170 + i:04d}", "channel": "call", "at": AT}
                for i in range(5)]  # fmt: skip
    with Client(server.url, api_key=KEYS["campaign"], timeout=60) as gate:
        whole = gate.screen(contacts, explain=1)
        split = gate.screen(contacts, explain=1, chunk_size=2)
        assert [r.model_dump() for r in split.results] == [r.model_dump() for r in whole.results]
        assert split.summary == whole.summary
        with pytest.raises(ContactgateError) as refused:
            gate.record_events([])  # a campaign key may not write
        assert refused.value.status == 403 and refused.value.code == "forbidden"
        with pytest.raises(ValueError, match="budget"):
            gate.screen(contacts, policy={"max_contacts": 1}, chunk_size=2)

    # the Python example of docs/api.md, run as written against this server
    text = (Path(__file__).parents[2] / "docs" / "api.md").read_text()
    example = re.search(r"```python\n(.*?)```", text.split("## Python client", 1)[1], re.S)
    assert example, "docs/api.md has no Python client example"
    code = example.group(1).replace("http://127.0.0.1:3000", server.url)
    code = code.replace('"camp-key"', repr(KEYS["campaign"]))
    code = code.replace('"op-key"', repr(KEYS["operator"]))
    namespace: dict = {}
    exec(compile(code, "docs/api.md", "exec"), namespace)  # noqa: S102 - our own docs
    assert namespace["answer"].results, "the example screens at least one contact"
