"""The contact-history simulator: determinism, contracts, rates, and a hazard that is real.

The reference computations here (labels with ``merge_asof``, prior-contact counts, local
hours with ``zoneinfo``) are written independently of :mod:`features.simulate`, so a bug
in the simulator's own label or driver code shows up as a disagreement.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from pathlib import Path

import numpy as np
import pandas as pd
import phonenumbers
import pyarrow.parquet as pq
import pytest

from features import simulate as sim
from features.io import arrow_schema, load_events, load_records
from features.phone import normalize
from features.replies import classify_reply
from features.schema import Consent, DncEntry, Event

WEEK = pd.Timedelta(days=7)
REGIONS = {"US", "CA", "GB", "FR", "DE", "AU", "CN"}


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """20 000 numbers × 180 days (≈ 190 k contacts): enough complaints to test the hazard."""
    out = tmp_path_factory.mktemp("sim_big")
    return sim.simulate_to_dir(out, numbers=20_000, days=180, seed=11, progress=False)


@pytest.fixture(scope="module")
def events(big: dict[str, Path]) -> pd.DataFrame:
    return pd.read_parquet(big["events"])


def reference_labels(events: pd.DataFrame) -> pd.DataFrame:
    """Contacts with complaint_7d / opt_out_7d per DESIGN.md, computed with merge_asof.

    Also returns, for every complaint / opt-out (event or opt-out reply), the contact it
    follows and whether it sits inside that contact's window.
    """
    ev = events.copy()
    is_reply = (ev["kind"] == "reply") & ev["text"].notna()
    reply_label = pd.Series("other", index=ev.index)
    reply_label[is_reply] = [
        classify_reply(t, normalize(n).region)
        for t, n in zip(ev.loc[is_reply, "text"], ev.loc[is_reply, "number"], strict=True)
    ]
    ev["reaction"] = np.where(
        ev["kind"] == "complaint",
        "complaint",
        np.where((ev["kind"] == "opt_out") | (reply_label == "opt_out"), "opt_out", ""),
    )
    contacts = ev[ev["kind"] == "contact"][["event_id", "number", "ts"]].sort_values("ts")
    contacts = contacts.rename(columns={"ts": "contact_ts", "event_id": "contact_id"})
    nxt = contacts.sort_values(["number", "contact_ts"]).copy()
    nxt["next_ts"] = nxt.groupby("number")["contact_ts"].shift(-1)
    reactions = ev[ev["reaction"] != ""][["number", "ts", "reaction"]].sort_values("ts")
    linked = pd.merge_asof(
        reactions,
        contacts,
        left_on="ts",
        right_on="contact_ts",
        by="number",
        allow_exact_matches=False,
        direction="backward",
    ).merge(nxt[["contact_id", "next_ts"]], on="contact_id", how="left")
    linked["inside"] = (
        linked["contact_id"].notna()
        & (linked["ts"] <= linked["contact_ts"] + WEEK)
        & (linked["next_ts"].isna() | (linked["ts"] < linked["next_ts"]))
    )
    out = ev[ev["kind"] == "contact"].set_index("event_id")
    for name in ("complaint", "opt_out"):
        ids = linked.loc[linked["inside"] & (linked["reaction"] == name), "contact_id"]
        out[f"{name}_7d"] = out.index.isin(ids)
    return out, linked


@pytest.fixture(scope="module")
def labelled(events: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    return reference_labels(events)


# --------------------------------------------------------------------------- determinism
def test_same_seed_gives_byte_identical_files_and_other_seed_differs(tmp_path: Path) -> None:
    a = sim.simulate_to_dir(tmp_path / "a", numbers=1500, days=60, seed=3, progress=False)
    b = sim.simulate_to_dir(tmp_path / "b", numbers=1500, days=60, seed=3, progress=False)
    c = sim.simulate_to_dir(tmp_path / "c", numbers=1500, days=60, seed=4, progress=False)
    for name in ("events", "consent", "dnc"):
        assert a[name].read_bytes() == b[name].read_bytes(), name
    assert not pd.read_parquet(a["events"]).equals(pd.read_parquet(c["events"]))


def test_chunking_does_not_change_the_data(tmp_path: Path) -> None:
    kwargs = dict(numbers=2300, days=45, seed=5, start=None, fmt="parquet", progress=False)
    one = sim._simulate_to_dir(tmp_path / "one", chunk_numbers=100_000, **kwargs)
    many = sim._simulate_to_dir(tmp_path / "many", chunk_numbers=333, **kwargs)
    for name in ("events", "consent", "dnc"):
        assert pq.read_table(one[name]).equals(pq.read_table(many[name])), name


def test_a_prefix_of_the_numbers_is_stable_when_more_are_simulated(tmp_path: Path) -> None:
    small = pd.read_parquet(
        sim.simulate_to_dir(tmp_path / "s", numbers=400, days=30, seed=9, progress=False)["events"]
    )
    large = pd.read_parquet(
        sim.simulate_to_dir(tmp_path / "l", numbers=900, days=30, seed=9, progress=False)["events"]
    )
    head = large[large["number"].isin(set(small["number"]))].reset_index(drop=True)
    pd.testing.assert_frame_equal(small, head)


# --------------------------------------------------------------------------- contracts
def test_files_load_with_zero_rejects_in_parquet_and_csv(tmp_path: Path) -> None:
    for fmt in ("parquet", "csv"):
        paths = sim.simulate_to_dir(
            tmp_path / fmt, numbers=800, days=40, seed=2, fmt=fmt, progress=False
        )
        assert paths["events"].suffix == f".{fmt}"
        loaded = load_events(paths["events"], skip_invalid=True)
        assert loaded.rejected_rows == 0 and len(loaded.frame) > 1000
        for record in ("consent", "dnc"):
            result = load_records(paths[record], record, skip_invalid=True)
            assert result.rejected_rows == 0 and len(result.frame) > 0, record
    csv = load_events(tmp_path / "csv" / "events.csv").frame
    parquet = load_events(tmp_path / "parquet" / "events.parquet").frame
    assert csv["event_id"].tolist() == parquet["event_id"].tolist()
    assert (csv["ts"] == parquet["ts"]).all()
    np.testing.assert_allclose(csv["p_complaint_true"], parquet["p_complaint_true"], rtol=1e-12)


def test_parquet_schemas_are_the_contracts(big: dict[str, Path]) -> None:
    for name, model in (("events", Event), ("consent", Consent), ("dnc", DncEntry)):
        assert pq.read_schema(big[name]).remove_metadata() == arrow_schema(model), name


def test_kind_specific_fields(events: pd.DataFrame) -> None:
    contacts = events[events["kind"] == "contact"]
    others = events[events["kind"] != "contact"]
    assert contacts["channel"].notna().all() and contacts["campaign_id"].notna().all()
    sms = contacts[contacts["channel"] == "sms"]
    calls = contacts[contacts["channel"] == "call"]
    assert sms["dial_mode"].isna().all() and sms["duration_s"].isna().all()
    assert set(sms["outcome"]) == {"delivered", "failed"}
    assert calls["dial_mode"].notna().all() and (calls["duration_s"] >= 0).all()
    assert set(calls["outcome"]) == {
        "answered", "no_answer", "busy", "voicemail", "abandoned", "amd", "failed"
    }  # fmt: skip
    assert contacts[["p_complaint_true", "p_opt_out_true"]].notna().all().all()
    assert others[["p_complaint_true", "p_opt_out_true"]].isna().all().all()
    assert events["event_id"].is_unique
    complaints = events[events["kind"] == "complaint"]
    assert set(complaints["source"]) == {"customer", "carrier", "regulator"}
    assert set(events["kind"]) == set(sim.EVENT_KINDS)
    # sorted by number, then time (a documented property of the files)
    same_number = events["number"].eq(events["number"].shift())
    assert (events["ts"].diff()[same_number] >= pd.Timedelta(0)).all()
    assert (~same_number).sum() == events["number"].nunique()


# --------------------------------------------------------------------------- rates
def test_rates_are_plausible(events: pd.DataFrame, labelled) -> None:
    contacts, _ = labelled
    per_number = len(events) / events["number"].nunique()
    assert 7 <= per_number <= 14
    assert 0.001 <= contacts["complaint_7d"].mean() <= 0.008
    assert 0.015 <= contacts["opt_out_7d"].mean() <= 0.045
    calls = contacts[contacts["channel"] == "call"]
    answered = calls["outcome"] == "answered"
    assert 0.2 <= answered.mean() <= 0.6
    short = answered & (calls["duration_s"] < 10)
    assert 0.05 <= short.sum() / answered.sum() <= 0.4
    assert 0.2 <= (contacts["channel"] == "sms").mean() <= 0.6
    assert 0.6 <= (contacts["purpose"] == "marketing").mean() <= 0.95


def test_realised_labels_match_the_oracle(labelled) -> None:
    contacts, _ = labelled
    for label, p in (("complaint_7d", "p_complaint_true"), ("opt_out_7d", "p_opt_out_true")):
        observed = contacts[label].sum()
        expected = contacts[p].sum()
        sd = np.sqrt((contacts[p] * (1 - contacts[p])).sum())
        assert abs(observed - expected) < 4 * sd, (label, observed, expected)


def test_simulator_labels_agree_with_the_reference(big: dict[str, Path], labelled) -> None:
    reference, _ = labelled
    mine = sim.labelled_contacts(big["events"])
    assert len(mine) == len(reference)
    assert mine["complaint_7d"].sum() == reference["complaint_7d"].sum()
    assert mine["opt_out_7d"].sum() == reference["opt_out_7d"].sum()
    np.testing.assert_allclose(
        np.sort(mine["p_complaint_true"].to_numpy()),
        np.sort(reference["p_complaint_true"].to_numpy()),
    )


def test_labelling_in_segments_keeps_each_number_whole(
    big: dict[str, Path], events: pd.DataFrame, labelled
) -> None:
    reference, _ = labelled
    parts = list(sim._labelled_segments(big["events"], segment_rows=40_000))
    assert len(parts) > 3
    assert sum(numbers for _, _, numbers in parts) == events["number"].nunique()
    assert sum(int(f["complaint_7d"].sum()) for f, _, _ in parts) == reference["complaint_7d"].sum()
    assert sum(int(f["opt_out_7d"].sum()) for f, _, _ in parts) == reference["opt_out_7d"].sum()
    assert sum(len(f) for f, _, _ in parts) == len(reference)


def test_every_complaint_and_opt_out_sits_in_one_contacts_window(labelled) -> None:
    _, linked = labelled
    assert len(linked) > 500
    assert linked["inside"].all(), linked[~linked["inside"]].head()
    # at most one complaint per contact window would still be fine; none may be orphaned
    assert linked["contact_id"].notna().all()


# --------------------------------------------------------------------------- the hazard
def test_top_oracle_decile_complains_far_more_than_the_bottom(labelled) -> None:
    contacts, _ = labelled
    decile = pd.qcut(contacts["p_complaint_true"].rank(method="first"), 10, labels=False)
    rates = contacts.groupby(decile)["complaint_7d"].mean()
    assert rates.iloc[-1] > 8 * max(rates.iloc[0], 1e-4)
    decile_o = pd.qcut(contacts["p_opt_out_true"].rank(method="first"), 10, labels=False)
    rates_o = contacts.groupby(decile_o)["opt_out_7d"].mean()
    assert rates_o.iloc[-1] > 4 * rates_o.iloc[0]


def _prior_contacts_7d(contacts: pd.DataFrame) -> pd.Series:
    """Contacts to the same number with t − 7 days ≤ ts < t (DESIGN.md window)."""
    code = pd.factorize(contacts["number"])[0].astype(np.int64)
    seconds = contacts["ts"].astype("int64").to_numpy() // 1_000_000
    key = code * 10**11 + seconds
    ordered = np.sort(key)
    lo = np.searchsorted(ordered, key - 7 * 86_400, side="left")
    hi = np.searchsorted(ordered, key, side="left")
    return pd.Series(hi - lo, index=contacts.index)


def test_more_prior_contacts_in_7_days_means_more_complaints(labelled) -> None:
    contacts, _ = labelled
    prior = _prior_contacts_7d(contacts)
    low = contacts.loc[prior == 0, "complaint_7d"].mean()
    high = contacts.loc[prior >= 4, "complaint_7d"].mean()
    assert (prior >= 4).sum() > 2000
    assert high > 1.8 * low, (low, high)
    assert (
        contacts.loc[prior >= 4, "p_complaint_true"].mean()
        > contacts.loc[prior == 0, "p_complaint_true"].mean()
    )


def test_night_contacts_in_local_time_carry_more_risk(labelled) -> None:
    contacts, _ = labelled
    sample = contacts.sample(6000, random_state=1)
    zone = sample["number"].map(lambda n: normalize(n).time_zones[0])
    hour = pd.Series(0, index=sample.index)
    for name, rows in sample.groupby(zone):
        hour[rows.index] = rows["ts"].dt.tz_convert(zoneinfo.ZoneInfo(name)).dt.hour
    night = (hour >= 21) | (hour < 8)
    assert 0.02 < night.mean() < 0.4
    p = sample["p_complaint_true"]
    assert p[night].mean() > 1.5 * p[~night].mean()


def test_marketing_mostly_stops_after_an_opt_out(events: pd.DataFrame, labelled) -> None:
    _, linked = labelled
    first_opt_out = linked[linked["reaction"] == "opt_out"].groupby("number")["ts"].min()
    contacts = events[(events["kind"] == "contact") & events["number"].isin(first_opt_out.index)]
    after = contacts["ts"] > contacts["number"].map(first_opt_out)
    marketing_after = (after & (contacts["purpose"] == "marketing")).sum()
    marketing_before = (~after & (contacts["purpose"] == "marketing")).sum()
    assert 0 < marketing_after < 0.06 * marketing_before


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
    regions = sim.region_of_numbers(numbers.tolist()).to_pylist()
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


# --------------------------------------------------------------------------- consent, DNC
def test_consent_and_dnc_files(big: dict[str, Path], events: pd.DataFrame) -> None:
    consent = pd.read_parquet(big["consent"])
    assert set(consent["type"]) == {"written", "express", "soft_opt_in", "implied"}
    assert 0.01 < consent["revoked_at"].notna().mean() < 0.4
    assert consent["confirmed_at"].notna().any()
    assert (
        consent["revoked_at"].dropna() >= consent.loc[consent["revoked_at"].notna(), "granted_at"]
    ).all()
    assert 0.4 < len(consent) / events["number"].nunique() < 0.7
    dnc = pd.read_parquet(big["dnc"])
    assert set(dnc["action"]) == {"add", "remove"}
    assert {"call", "all"} <= set(dnc["scope"])


# --------------------------------------------------------------------------- CLI + summary
def test_cli_writes_files_and_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from serving.cli import main

    out = tmp_path / "cli"
    code = main(["simulate", "--numbers", "300", "--days", "20", "--seed", "1", "--out", str(out),
                 "--format", "csv", "--start", "2026-03-01T00:00Z", "--no-progress"])  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "complaint_7d" in printed and "events by kind" in printed
    ts = load_events(out / "events.csv").frame["ts"]
    assert ts.min() >= pd.Timestamp("2026-03-01", tz="UTC")


def test_summary_figures_match_the_files(big: dict[str, Path], labelled) -> None:
    contacts, _ = labelled
    figures = sim.summarize(big)
    assert figures["contacts"] == len(contacts)
    assert figures["complaint_rate"] == pytest.approx(contacts["complaint_7d"].mean())
    assert figures["opt_out_rate"] == pytest.approx(contacts["opt_out_7d"].mean())
    assert set(figures["by_region"]) == REGIONS
    assert figures["by_channel"]["sms"]["contacts"] == (contacts["channel"] == "sms").sum()


def test_naive_start_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="time zone"):
        sim.simulate_to_dir(tmp_path, numbers=10, days=5, seed=1, start=dt.datetime(2026, 1, 1))


# --------------------------------------------------------------------------- observable ceiling
def _dense_posterior_mean(history, hazard_c, hazard_o, points=801, half_width=8.0):
    """E[p_complaint], E[p_opt_out] for the next contact, by brute force on a dense grid.

    Written from the model in the simulator's docstring, not from its kernel: correlated
    standard normal log-sensitivities, ``p = min(1 − exp(−s·h), 0.5)``, refusals with
    probability ``min(0.06 · s_o · (1 + 0.08 · contacts_7d), 0.5)``; the posterior is the
    prior density times the likelihood of every earlier outcome.
    """
    rho = sim.SENSITIVITY_CORRELATION
    z = np.linspace(-half_width, half_width, points)
    zc, zo = np.meshgrid(z, z, indexing="ij")
    log_w = -(zc**2 - 2 * rho * zc * zo + zo**2) / (2 * (1 - rho**2))
    s_c = np.exp(sim.SENSITIVITY_SIGMA * zc - sim.SENSITIVITY_SIGMA**2 / 2)
    s_o = np.exp(sim.OPT_OUT_SENSITIVITY_SIGMA * zo - sim.OPT_OUT_SENSITIVITY_SIGMA**2 / 2)

    def p(s, h):
        return np.minimum(1 - np.exp(-s * h), 0.5)

    for h_c, h_o, complained, opted_out, refusal_possible, refused, c7 in history:
        log_w += np.log(p(s_c, h_c) if complained else 1 - p(s_c, h_c))
        log_w += np.log(p(s_o, h_o) if opted_out else 1 - p(s_o, h_o))
        if refusal_possible:
            p_ref = np.minimum(0.06 * s_o * (1 + 0.08 * c7), 0.5)
            log_w += np.log(p_ref if refused else 1 - p_ref)
    w = np.exp(log_w - log_w.max())
    return (w * p(s_c, hazard_c)).sum() / w.sum(), (w * p(s_o, hazard_o)).sum() / w.sum()


def _kernel_posterior_mean(history, hazard_c, hazard_o):
    s_c, s_o, prior = sim.sensitivity_grid()
    k = len(s_c)
    like_c, like_o = np.ones(k), np.ones(k)
    node_c, node_o, mix_c, mix_o = (np.empty(k) for _ in range(4))
    for h_c, h_o, complained, opted_out, refusal_possible, refused, c7 in history:
        sim._ceiling_predict(h_c, h_o, s_c, s_o, prior, like_c, like_o, node_c, node_o,
                             mix_c, mix_o)  # fmt: skip
        sim._ceiling_update(like_c, like_o, node_c, node_o, complained, opted_out,
                            refusal_possible, refused, c7, s_o)  # fmt: skip
    return sim._ceiling_predict(hazard_c, hazard_o, s_c, s_o, prior, like_c, like_o, node_c,
                                node_o, mix_c, mix_o)  # fmt: skip


@pytest.mark.parametrize(
    "history",
    [
        [],  # a first contact: the prior mean
        [(0.001, 0.02, False, False, True, False, 1)] * 30,  # a long, quiet history
        [(0.002, 0.01, True, False, False, False, 0), (0.0005, 0.03, False, False, True, True, 2)],
        [(0.001, 0.02, False, True, True, True, 3), (0.004, 0.05, True, False, False, False, 4)],
        [(0.3, 0.6, True, False, True, True, 8), (0.3, 0.6, False, True, False, False, 9)],
    ],
    # "capped": hazards at which the 0.5 cap binds for the more sensitive people
    ids=["first-contact", "quiet", "complaint-then-refusal", "opt-out-and-complaint", "capped"],
)
def test_ceiling_quadrature_matches_a_dense_integral(history) -> None:
    """The kernel's 16-node grid against an 801 × 801 grid over ±8 σ."""
    for hazard_c, hazard_o in ((0.0005, 0.0125), (0.01, 0.08)):
        got = _kernel_posterior_mean(history, hazard_c, hazard_o)
        want = _dense_posterior_mean(history, hazard_c, hazard_o)
        np.testing.assert_allclose(got, want, rtol=5e-3)


def test_ceiling_learns_from_each_kind_of_outcome() -> None:
    """A complaint raises both risks (the sensitivities are correlated), a refusal raises
    the opt-out risk more than the complaint risk, a quiet history lowers both."""
    first = np.array(_kernel_posterior_mean([], 0.001, 0.02))
    complaint = np.array(_kernel_posterior_mean([(0.001, 0.02, True, False, False, False, 0)],
                                                0.001, 0.02))  # fmt: skip
    refusal = np.array(_kernel_posterior_mean([(0.001, 0.02, False, False, True, True, 0)],
                                              0.001, 0.02))  # fmt: skip
    quiet = np.array(_kernel_posterior_mean([(0.001, 0.02, False, False, True, False, 0)] * 20,
                                            0.001, 0.02))  # fmt: skip
    assert (complaint > first).all() and (quiet < first).all()
    assert (refusal > first).all()
    assert refusal[1] / first[1] > refusal[0] / first[0]
    assert complaint[0] / first[0] > complaint[1] / first[1]


def test_ceiling_columns_only_on_contacts(events: pd.DataFrame) -> None:
    cols = ["p_complaint_observable", "p_opt_out_observable"]
    contact = events["kind"] == "contact"
    assert events.loc[contact, cols].notna().all().all()
    assert events.loc[~contact, cols].isna().all().all()
    assert ((events.loc[contact, cols] > 0) & (events.loc[contact, cols] <= sim.P_CAP)).all().all()
