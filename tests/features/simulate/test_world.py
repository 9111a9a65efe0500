"""The simulated world: phone numbers and reply texts."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import phonenumbers
import pytest

from features import simulate as sim
from features.phone import normalize, regions_of
from features.replies import classify_reply
from tests.support.simulate import REGIONS


# --------------------------------------------------------------------------- numbers
def test_numbers_are_valid_in_the_intended_regions_with_known_zones(events: pd.DataFrame) -> None:
    numbers = pd.Series(events["number"].unique())
    sample = numbers.sample(400, random_state=2)
    blocks = sim.number_blocks()
    for raw in sample:
        parsed = phonenumbers.parse(raw, None)
        assert phonenumbers.is_valid_number(parsed), raw
        region = phonenumbers.region_code_for_number(parsed)
        assert region in REGIONS, raw
        block = next(
            b for b in blocks if raw.startswith(b.prefix) and len(raw) == len(b.prefix) + b.digits
        )
        assert block.region == region
        assert normalize(raw).time_zones == block.zones
    regions = regions_of(numbers.tolist()).to_pylist()
    share = pd.Series(regions).value_counts(normalize=True)
    assert set(share.index) == REGIONS
    assert 0.45 < share["US"] < 0.55
    assert [normalize(n).region for n in sample] == [regions[i] for i in sample.index]
    states = {normalize(n).subdivision for n in sample if n.startswith("+1")}
    assert {"US-FL", "US-TX", "US-CA", "US-NY"} <= states


def test_numbers_are_unique_per_index(tmp_path: Path) -> None:
    plan = sim.NumberPlan.for_seed(1)
    _, strings = plan.assign(0, 50_000)
    assert len(set(strings.to_pylist())) == 50_000


def test_an_impossible_size_is_refused_before_any_work() -> None:
    with pytest.raises(ValueError, match="exceeds"):
        sim.NumberPlan.for_seed(1).check_capacity(10**10)


# --------------------------------------------------------------------------- replies
@pytest.mark.parametrize("language", sim.LANGUAGES)
def test_reply_texts_classify_as_intended(language: str) -> None:
    region = {"en": "US", "es": "US", "fr": "FR", "de": "DE", "zh": "CN", "en-AU": "AU"}[language]
    opt_out, help_, opt_in, ordinary = sim.REPLY_TEXTS[language]
    for text in opt_out:
        assert classify_reply(text, region) == "opt_out", text
    for text in help_:
        assert classify_reply(text, region) == "help", text
    for text in opt_in:
        assert classify_reply(text, region) == "opt_in", text
    for text in ordinary:
        assert classify_reply(text, region) == "other", text


def test_opt_out_replies_and_multilingual_words_appear(events: pd.DataFrame) -> None:
    texts = set(events.loc[events["kind"] == "reply", "text"])
    for word in ("STOP", "Stop.", "arrêt", "baja", "abmelden", "退订", "TD", "HELP", "AIDE"):
        assert word in texts, word
    assert "please don't text me anymore" in texts and "who is this?" in texts
