"""Every strategy's counts on a hand-made frame of 20 contacts, the curve and the JSON keys."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from serving.backtest import counts, curve, evaluate_strategies, rankings
from serving.domain.decision import Policy


def _contacts() -> pd.DataFrame:
    """20 contacts, one per number except n0 (two). Rules withhold rows 0-3; the model ranks
    rows 4, 5, 6 riskiest; contact count ranks rows 10, 11 first; complaints follow rows 0, 4,
    5, 10 and 19, opt-outs rows 1, 6 and 11."""
    n = 20
    frame = pd.DataFrame(
        {
            "number": [f"n{max(i - 1, 0)}" for i in range(n)],
            "ts": pd.date_range("2026-03-01T10:00Z", periods=n, freq="h"),
            "jurisdiction": ["US"] * 10 + ["GB"] * 10,
            "rules_withheld": [True] * 4 + [False] * 16,
            "reasons": ["QUIET_HOURS", "NO_CONSENT", "QUIET_HOURS|INTERNAL_DNC", "NO_CONSENT"]
            + [""] * 16,
            "risk": [0.9] * 4 + [0.30, 0.20, 0.10] + [0.01] * 13,
            "contacts_30d": [0] * 10 + [9, 8] + [1] * 8,
            "contacts_7d": [0] * n,
            "complaint_7d": 0,
            "opt_out_7d": 0,
        }
    )
    frame.loc[[0, 4, 5, 10, 19], "complaint_7d"] = 1
    frame.loc[[1, 6, 11], "opt_out_7d"] = 1
    frame["p_complaint"] = frame["risk"] / 2
    frame["p_opt_out"] = frame["risk"] / 2
    return frame


def test_rules_only_counts_by_jurisdiction_and_reason():
    frame = _contacts()
    got = counts(frame, frame["rules_withheld"].to_numpy(), frame["reasons"])
    assert (got["contacts"], got["allowed"], got["withheld"]) == (20, 16, 4)
    assert got["complaints"] == 5 and got["opt_outs"] == 3
    assert (got["complaints_avoided"], got["complaints_after_allowed"]) == (1, 4)
    assert (got["opt_outs_avoided"], got["opt_outs_after_allowed"]) == (1, 2)
    assert got["complaints_avoided_share"] == pytest.approx(1 / 5)
    assert got["complaints_per_1000_allowed"] == pytest.approx(1000 * 4 / 16)
    assert got["by_jurisdiction"]["US"] == {
        "contacts": 10, "allowed": 6, "withheld": 4, "complaints_avoided": 1,
        "complaints_after_allowed": 2, "opt_outs_avoided": 1, "opt_outs_after_allowed": 1,
        "complaints_per_1000_allowed": pytest.approx(1000 * 2 / 6),
        "complaints_per_1000_withheld": pytest.approx(1000 * 1 / 4),
    }  # fmt: skip
    assert got["by_jurisdiction"]["GB"]["withheld"] == 0
    assert got["by_reason"] == {
        "QUIET_HOURS": {"withheld": 2, "complaints_avoided": 1, "opt_outs_avoided": 0},
        "NO_CONSENT": {"withheld": 2, "complaints_avoided": 0, "opt_outs_avoided": 1},
        "INTERNAL_DNC": {"withheld": 1, "complaints_avoided": 0, "opt_outs_avoided": 0},
    }


def test_ranked_strategies_withhold_on_top_of_the_rules():
    frame = _contacts()
    orders = rankings(frame, seed=1)
    assert orders["model"][:3].tolist() == [4, 5, 6]
    assert orders["contact_count"][:2].tolist() == [10, 11]
    assert sorted(orders["random"].tolist()) == list(range(4, 20))  # rules-allowed only
    result = evaluate_strategies(
        frame, Policy(review_above=0.2, withhold_above=0.25), seed=1, resamples=50
    )
    s = result["strategies"]
    # 10 % of the 16 contacts the rules allow = 2 more withheld (1.6 rounded): the model's
    # rows 4 and 5 (two complaints of 5)
    assert s["model"]["extra_withheld_at_10pct"] == 2
    assert s["model"]["complaints_avoided_share_at_10pct"] == pytest.approx(2 / 5)
    assert s["model"]["opt_outs_avoided_share_at_10pct"] == 0
    assert s["model"]["at_10pct"]["withheld"] == 6
    assert s["model"]["at_10pct"]["by_reason"]["RISK_ABOVE_THRESHOLD"]["withheld"] == 2
    # contact count: rows 10 and 11 (one complaint, one opt-out)
    assert s["contact_count"]["complaints_avoided_share_at_10pct"] == pytest.approx(1 / 5)
    assert s["contact_count"]["opt_outs_avoided_share_at_10pct"] == pytest.approx(1 / 3)
    assert s["contact_count"]["at_10pct"]["by_reason"]["CONTACT_COUNT"]["withheld"] == 2
    assert s["model"]["complaints_avoided_vs_contact_count_at_10pct"] == pytest.approx(2.0)
    assert s["random"]["at_10pct"]["withheld"] == 6
    # thresholds: risk > 0.15 withholds rows 4 and 5 beyond the rules
    by_threshold = {t["threshold"]: t for t in s["model"]["thresholds"]}
    assert by_threshold[0.2]["withheld"] == 5  # risk 0.30 only (strictly above)
    assert by_threshold[0.25]["withheld"] == 5  # the policy's threshold is included
    assert by_threshold[0.01]["withheld"] == 7  # 0.30, 0.20, 0.10
    assert by_threshold[0.5]["withheld"] == 4


def test_model_complaint_ranks_by_the_complaint_probability_alone():
    frame = _contacts()
    # row 6 (an opt-out, no complaint) has the highest complaint probability, row 4 the next;
    # the combined risk still ranks rows 4, 5, 6 first
    frame.loc[6, "p_complaint"] = 0.3
    orders = rankings(frame, seed=1)
    assert orders["model_complaint"][:2].tolist() == [6, 4]
    assert orders["model"][:3].tolist() == [4, 5, 6]
    s = evaluate_strategies(frame, Policy(), seed=1, resamples=50)["strategies"]
    entry = s["model_complaint"]
    assert entry["extra_withheld_at_10pct"] == 2
    assert entry["complaints_avoided_share_at_10pct"] == pytest.approx(1 / 5)  # row 4
    assert entry["opt_outs_avoided_share_at_10pct"] == pytest.approx(1 / 3)  # row 6
    assert entry["at_10pct"]["by_reason"]["COMPLAINT_RISK"]["withheld"] == 2
    assert entry["complaints_avoided_vs_contact_count_at_10pct"] == pytest.approx(1.0)
    assert s["model"]["complaints_avoided_share_at_10pct"] == pytest.approx(2 / 5)


def test_budget_keeps_the_least_risky_per_day():
    frame = _contacts()
    # the contacts run 10:00 to 05:00 next day (UTC): day 1 holds rows 0-13, day 2 rows
    # 14-19. Budget 0.02 expected complaints a day, least risky first, after the rules and
    # the 0.25 threshold (row 4): day 1 keeps four of rows 7-13 (p 0.005) and withholds
    # rows 5, 6 and three others; day 2 keeps four of its six
    policy = Policy(review_above=0.2, withhold_above=0.25, max_expected_complaints=0.02)
    budget = evaluate_strategies(frame, policy, resamples=20)["strategies"]["model"]["budget"]
    assert budget["by_reason"]["RISK_ABOVE_THRESHOLD"]["withheld"] == 1  # row 4
    assert budget["by_reason"]["BUDGET_EXHAUSTED"]["withheld"] == 5 + 2
    assert budget["allowed"] == 4 + 4
    assert budget["policy"]["max_expected_complaints_per_day"] == 0.02


def test_curve_is_monotone_and_starts_at_zero():
    frame = _contacts()
    points = curve(frame, rankings(frame, seed=0))
    assert points[0]["withheld_share"] == 0 and points[-1]["withheld_share"] == 0.5
    assert all(points[0][k] == 0 for k in points[0] if k != "withheld_share")
    for key in ("model_complaints_avoided_share", "contact_count_opt_outs_avoided_share"):
        values = [p[key] for p in points]
        assert values == sorted(values)
    # at 20 % of the 16 rules-allowed contacts (3, 15 % of all 20) the model has withheld rows
    # 4, 5 and 6: 2 of 5 complaints, 1 of 3 opt-outs; contact count rows 10, 11 and a tie
    at_20 = points[20]
    assert at_20["withheld_share_of_all"] == pytest.approx(3 / 20)
    assert at_20["model_complaints_avoided_share"] == pytest.approx(2 / 5)
    assert at_20["model_opt_outs_avoided_share"] == pytest.approx(1 / 3)
    assert at_20["contact_count_opt_outs_avoided_share"] == pytest.approx(1 / 3)


def test_headline_share_is_of_the_rules_allowed_contacts_and_of_all_beside_it():
    """Rules withhold 10 of 20: 10 % of the allowed is 1 contact, 10 % of all is 2."""
    frame = _contacts()
    frame.loc[12:17, "rules_withheld"] = True
    frame.loc[12:17, "reasons"] = "QUIET_HOURS"
    result = evaluate_strategies(frame, Policy(), seed=1, resamples=30)
    assert result["headline"] == {
        "share": 0.1, "of": "rules_allowed", "contacts": 20, "rules_allowed": 10,
        "extra_withheld": 1,
    }  # fmt: skip
    model, count = result["strategies"]["model"], result["strategies"]["contact_count"]
    assert model["extra_withheld_at_10pct"] == 1  # row 4: one complaint of 5
    assert model["complaints_avoided_share_at_10pct"] == pytest.approx(1 / 5)
    assert count["complaints_avoided_share_at_10pct"] == pytest.approx(1 / 5)  # row 10
    assert model["complaints_avoided_vs_contact_count_at_10pct"] == pytest.approx(1.0)
    everything = model["of_all_contacts"]
    assert everything["extra_withheld_at_10pct"] == 2  # rows 4 and 5
    assert everything["complaints_avoided_share_at_10pct"] == pytest.approx(2 / 5)
    assert everything["complaints_avoided_vs_contact_count_at_10pct"] == pytest.approx(2.0)
    low, high = everything["complaints_avoided_share_at_10pct_ci95"]
    assert 0 <= low <= high <= 1


def test_oracle_and_ceiling_rank_by_the_simulators_probabilities():
    frame = _contacts()
    frame["p_complaint_true"] = 0.01
    frame["p_opt_out_true"] = 0.01
    frame.loc[19, "p_complaint_true"] = 0.4  # the oracle's first: a complaint followed
    frame.loc[18, "p_opt_out_true"] = 0.3  # its second: none followed
    frame["p_complaint_observable"] = frame["p_complaint"]  # the ceiling ranks as the model
    frame["p_opt_out_observable"] = frame["p_opt_out"]
    result = evaluate_strategies(frame, Policy(), seed=1, resamples=30)
    oracle = result["strategies"]["oracle"]
    ceiling = result["strategies"]["observable_ceiling"]
    model = result["strategies"]["model"]
    assert oracle["at_10pct"]["by_reason"]["ORACLE"]["withheld"] == 2
    assert oracle["complaints_avoided_share_at_10pct"] == pytest.approx(1 / 5)
    assert oracle["expected_complaints_avoided_share_at_10pct"] == pytest.approx(
        0.41 / frame["p_complaint_true"].sum()
    )
    assert (
        ceiling["complaints_avoided_share_at_10pct"] == model["complaints_avoided_share_at_10pct"]
    )
    for entry in (model, oracle, ceiling):
        assert entry["expected_complaints_avoided_vs_contact_count_at_10pct"] > 0
        low, high = entry["expected_complaints_avoided_vs_contact_count_at_10pct_ci95"]
        assert low <= high
    assert "oracle_expected_complaints_avoided_share" in result["curve"][10]


def test_json_keys_of_the_issue():
    result = evaluate_strategies(_contacts(), Policy(), resamples=20)
    assert set(result) == {"strategies", "curve", "headline"}
    assert set(result["strategies"]) == {
        "model", "model_complaint", "contact_count", "random", "rules_only",
    }  # fmt: skip
    for name in ("model", "model_complaint", "contact_count", "random"):
        entry = result["strategies"][name]
        assert isinstance(entry["complaints_avoided_share_at_10pct"], float)
        assert isinstance(entry["opt_outs_avoided_share_at_10pct"], float)
        low, high = entry["complaints_avoided_share_at_10pct_ci95"]
        assert 0 <= low <= high <= 1
    assert isinstance(result["curve"], list) and len(result["curve"]) == 51


def test_no_contacts_is_an_error():
    with pytest.raises(ValueError, match="no outbound contacts"):
        evaluate_strategies(_contacts().iloc[:0], Policy())


def test_bootstrap_interval_covers_the_estimate_on_a_larger_sample():
    rng = np.random.default_rng(4)
    n = 4000
    risk = rng.random(n) * 0.1
    frame = pd.DataFrame(
        {
            "number": [f"n{i // 2}" for i in range(n)],
            "ts": pd.Timestamp("2026-03-01T00:00Z"),
            "jurisdiction": "US",
            "rules_withheld": False,
            "reasons": "",
            "risk": risk,
            "p_complaint": risk,
            "p_opt_out": 0.0,
            "contacts_30d": rng.integers(0, 5, n),
            "contacts_7d": 0,
            "complaint_7d": (rng.random(n) < risk).astype(int),
            "opt_out_7d": (rng.random(n) < 0.02).astype(int),
        }
    )
    model = evaluate_strategies(frame, Policy(), resamples=200)["strategies"]["model"]
    low, high = model["complaints_avoided_share_at_10pct_ci95"]
    assert low < model["complaints_avoided_share_at_10pct"] < high
    assert high - low < 0.3
