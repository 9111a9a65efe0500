"""The service follows the champion: a new version is loaded, validated and swapped in; a
version that fails to load or validate leaves the current one deciding.

Real MLflow store (a private copy of the trained test model), real bundles, real
pipeline; only the polling thread is driven by hand (``check()``) to keep the test exact.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest

from serving.pipeline import ChampionFollower, Screener, load_resources
from serving.settings import DEFAULT_MODEL_POLL_S, MODEL_POLL_ENV, Settings, SettingsError
from tests.support.models import champion_store_copy, register_bundle, set_champion
from tests.support.service import AT, FL


@pytest.fixture
def registry(tmp_path: Path):
    return champion_store_copy(tmp_path)


def _decide(screener: Screener) -> str | None:
    from features.phone import normalize
    from serving.domain.contract import ContactIn
    from serving.domain.decision import Policy

    item = ContactIn.model_validate({"number": FL, "channel": "call", "at": AT})
    contact = item.to_contact(item.at, normalize(FL))
    outcome = screener.decide_contacts([contact], Policy(), items=[item])
    assert outcome.results[0].decision in ("allow", "review", "withhold")
    return outcome.model.version


def test_new_champion_swapped_in_and_a_broken_one_refused(
    registry, tmp_path: Path, store_env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    resources = load_resources(
        db_url=f"sqlite:///{tmp_path / 'store.db'}", tracking_uri=registry.tracking_uri
    )
    assert resources.model is not None and resources.model.version == registry.version
    screener = Screener(resources, audit=False)
    assert _decide(screener) == registry.version

    from training import tracking

    follower = ChampionFollower(
        resources,
        lambda: tracking.alias_version("contact-risk", "champion"),
        lambda: tracking.load_model("contact-risk", "champion"),
        poll_s=0,
    )
    assert follower.check() is False  # nothing new

    second = register_bundle(registry.tracking_uri, registry.directory / "bundle")
    assert follower.check() is False  # registered, not promoted: nothing changes
    set_champion(registry.tracking_uri, second)
    with caplog.at_level(logging.WARNING, logger="contactgate.pipeline"):
        assert follower.check() is True
    assert f"→ {second}" in caplog.text
    assert resources.status()["model"]["version"] == second
    assert _decide(screener) == second

    # a bundle trained on another feature set: refused, the current model keeps deciding
    broken = tmp_path / "broken" / "bundle"  # MLflow keeps the directory name
    shutil.copytree(registry.directory / "bundle", broken)
    meta = json.loads((broken / "bundle.json").read_text())
    meta["feature_fingerprint"] = "0" * 16
    (broken / "bundle.json").write_text(json.dumps(meta))
    third = register_bundle(registry.tracking_uri, broken)
    set_champion(registry.tracking_uri, third)
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="contactgate.pipeline"):
        assert follower.check() is False
    assert f"champion version {third} NOT loaded, version {second} stays in use" in caplog.text
    assert "BundleMismatch" in caplog.text
    assert "BundleMismatch" in resources.status()["errors"]["model_update"]
    assert _decide(screener) == second
    caplog.clear()
    assert follower.check() is False  # not retried (nor logged) every round
    assert "NOT loaded" not in caplog.text

    # a model whose smoke prediction fails is refused the same way
    set_champion(registry.tracking_uri, second)
    fourth = register_bundle(registry.tracking_uri, registry.directory / "bundle")
    set_champion(registry.tracking_uri, fourth)

    def bad_smoke(model: object) -> None:
        raise ValueError("smoke prediction: p_complaint is nan")

    follower.validate = bad_smoke
    assert follower.check() is False
    assert _decide(screener) == second
    from serving.pipeline import smoke_check

    follower.validate = smoke_check
    follower.failed_version = None
    assert follower.check() is True
    assert _decide(screener) == fourth


def test_poll_setting() -> None:
    assert Settings.from_environ({}).model_poll_s == DEFAULT_MODEL_POLL_S == 60
    assert Settings.from_environ({MODEL_POLL_ENV: "5"}).model_poll_s == 5
    with pytest.raises(SettingsError, match=MODEL_POLL_ENV):
        Settings.from_environ({MODEL_POLL_ENV: "soon"})
