"""The committed call-centre export is what its generator writes, and every number in it
is fictional and valid except the few rows meant to be bad."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pandas as pd
import phonenumbers as pn

DATA = Path(__file__).resolve().parents[1] / "data" / "callcentre"


def test_committed_files_are_what_the_generator_writes(tmp_path):
    spec = importlib.util.spec_from_file_location("make_dataset", DATA / "make_dataset.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(tmp_path)
    for name in ("events.csv", "consent.csv", "campaign.csv"):
        assert (tmp_path / name).read_bytes() == (DATA / name).read_bytes(), name


def test_numbers_are_national_formats_from_fictional_ranges():
    events = pd.read_csv(DATA / "events.csv", dtype=str, keep_default_na=False)
    good = events[events["region"] != ""].drop_duplicates("number")
    e164 = {
        n: pn.format_number(pn.parse(n, r), pn.PhoneNumberFormat.E164)
        for n, r in zip(good["number"], good["region"], strict=True)
        if pn.is_valid_number(pn.parse(n, r))
    }
    assert sum(not n.startswith("+") for n in e164) > 0.95 * len(e164)  # national formats
    fictional = ("+1201555", "+1212555", "+1305555", "+1312555", "+1415555", "+1617555",
                 "+1713555", "+1303555", "+1206555", "+1404555", "+442079460", "+441134960",
                 "+441214960", "+441614960", "+441174960", "+3319900", "+3346571", "+3353649")  # fmt: skip
    assert all(v.startswith(fictional) for v in e164.values())
    us = [v for v in e164.values() if v.startswith("+1")]
    assert us and all(re.fullmatch(r"\+1\d{3}55501\d{2}", v) for v in us)  # 555-01xx lines
    assert len(set(e164.values())) >= 700 and {r for r in good["region"]} == {"US", "GB", "FR"}
