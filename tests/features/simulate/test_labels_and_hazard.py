"""Realised labels against the oracle and a hazard that is real.

The reference labels (``merge_asof``, in :mod:`tests.support.simulate`), prior-contact
counts and local hours (``zoneinfo``) are written independently of :mod:`features.simulate`,
so a bug in the simulator's own label or driver code shows up as a disagreement.
"""

from __future__ import annotations

import zoneinfo
from pathlib import Path

import numpy as np
import pandas as pd

from features import simulate as sim
from features.phone import normalize
from features.simulate import summary


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
    parts = list(summary._labelled_segments(big["events"], segment_rows=40_000))
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
    """Contacts to the same number with t − 7 days ≤ ts < t (docs/model.md window)."""
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
