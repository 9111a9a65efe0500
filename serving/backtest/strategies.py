"""Strategies compared on the same replayed contacts: pure arithmetic on one frame.

Input: one row per contact of the window with ``rules_withheld``, ``reasons``, ``jurisdiction``,
the observed labels ``complaint_7d`` / ``opt_out_7d`` (the one label definition,
:mod:`features.pointintime.labels`), the model's ``p_complaint`` / ``p_opt_out`` / ``risk``,
the features ``contacts_30d`` / ``contacts_7d`` and, on simulated data, the true
probabilities ``p_complaint_true`` / ``p_opt_out_true``.

* **rules only** withholds what the rules withhold;
* **model**, **model (complaint)**, **contact count** and **random** withhold, *on top of
  the rules*, the rules-allowed contacts they rank first (highest risk; highest complaint
  probability; most contacted in the prior 30 days, ties at random; a random order) until a
  share of the contacts **the rules allow** is reached (the headline and the curve; the same
  figures as a share of *all* contacts of the window are kept beside them);
* on simulated data, **oracle** and **observable ceiling** rank the same way by the
  simulator's true combined risk and by the best risk a model of the history could know
  (the true hazard with the person's latent sensitivity integrated over its posterior):
  what a perfect model, and the best learnable one, would reach; their ``_complaint``
  variants rank by the complaint probability alone, as **model (complaint)** does;
* **model at thresholds** withholds the rules' contacts and those with ``risk`` above a
  threshold; **model plus budget** applies the policy's withhold threshold and then the
  campaign budget (:func:`serving.domain.decision.allocate_budget`, least risky first) per
  UTC day.

"Avoided" complaints (opt-outs) are those observed after withheld contacts; shares are of
all complaints (opt-outs) after the window's contacts. The counterfactual is not observed:
see docs/backtest.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from serving.domain.decision import Policy, allocate_budget
from training.evaluate import contact_count_score

#: Ranked strategies drawn as curves, and the reason code their extra withholds carry.
RANKED: dict[str, str] = {
    "model": "RISK_ABOVE_THRESHOLD",
    "model_complaint": "COMPLAINT_RISK",
    "contact_count": "CONTACT_COUNT",
    "random": "RANDOM",
}
#: Simulated data only: rankings by the simulator's probabilities — both combined like
#: ``risk``, or the complaint probability alone — the columns they read, and the reason code
#: of their extra withholds.
REFERENCES: dict[str, tuple[tuple[str, ...], str]] = {
    "oracle": (("p_complaint_true", "p_opt_out_true"), "ORACLE"),
    "observable_ceiling": (("p_complaint_observable", "p_opt_out_observable"), "CEILING"),
    "oracle_complaint": (("p_complaint_true",), "ORACLE"),
    "observable_ceiling_complaint": (("p_complaint_observable",), "CEILING"),
}
#: Strategies compared with contact count by a ratio of avoided shares.
COMPARED = (
    "model", "model_complaint", "oracle", "observable_ceiling", "oracle_complaint",
    "observable_ceiling_complaint",
)  # fmt: skip
HEADLINE_SHARE = 0.10
#: What the withheld share is a share of: the headline and the curve use the contacts the
#: rules allow (what a strategy can still withhold); ``of_all_contacts`` keeps the same
#: figures as shares of every contact of the window.
BASES = ("rules_allowed", "all_contacts")
CURVE_SHARES = tuple(round(0.01 * i, 2) for i in range(51))
THRESHOLDS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5)
LABELS = {"complaints": "complaint_7d", "opt_outs": "opt_out_7d"}
TRUTH = {"complaints": "p_complaint_true", "opt_outs": "p_opt_out_true"}


def has_truth(contacts: pd.DataFrame) -> bool:
    return all(c in contacts.columns for c in TRUTH.values()) and bool(
        contacts[TRUTH["complaints"]].notna().all()
    )


def references(contacts: pd.DataFrame) -> list[str]:
    """The reference rankings this frame can draw (simulated data only)."""
    return [
        name
        for name, (columns, _) in REFERENCES.items()
        if all(c in contacts.columns and contacts[c].notna().all() for c in columns)
    ]


def rankings(contacts: pd.DataFrame, seed: int) -> dict[str, np.ndarray]:
    """Positions of the rules-allowed contacts, first to withhold first, per ranked strategy
    (and per reference ranking on simulated data)."""
    from features.definitions import combined_risk

    allowed = np.flatnonzero(~contacts["rules_withheld"].to_numpy(bool))
    rng = np.random.default_rng(seed)
    tie = rng.random(len(allowed))

    def score(columns: tuple[str, ...]) -> np.ndarray:
        values = [contacts[c].to_numpy(float)[allowed] for c in columns]
        return values[0] if len(values) == 1 else np.asarray(combined_risk(*values))

    count = contact_count_score(contacts.iloc[allowed])
    orders = {
        "model": allowed[np.lexsort((tie, -contacts["risk"].to_numpy(float)[allowed]))],
        "model_complaint": allowed[np.lexsort((tie, -score(("p_complaint",))))],
        "contact_count": allowed[np.lexsort((tie, -count))],
        "random": allowed[rng.permutation(len(allowed))],
    }
    for name in references(contacts):
        orders[name] = allowed[np.lexsort((tie, -score(REFERENCES[name][0])))]
    return orders


def base_count(contacts: pd.DataFrame, basis: str = BASES[0]) -> int:
    """How many contacts a withheld share is a share of (:data:`BASES`)."""
    if basis == "all_contacts":
        return len(contacts)
    return int((~contacts["rules_withheld"].to_numpy(bool)).sum())


def extra_withheld(order: np.ndarray, n_base: int, share: float) -> np.ndarray:
    """The first ``share`` of ``n_base`` contacts along ``order`` (at most every allowed one)."""
    return order[: min(len(order), int(round(share * n_base)))]


def counts(
    contacts: pd.DataFrame, withheld: np.ndarray, reasons: Sequence[str] | pd.Series
) -> dict[str, Any]:
    """Contacts allowed and withheld, complaints and opt-outs after each, per 1,000 contacts,
    overall, by jurisdiction (the number's country) and by reason of the withheld contacts."""
    withheld = np.asarray(withheld, dtype=bool)
    out = _totals(contacts, withheld)
    ys = {name: contacts[label].to_numpy(float) for name, label in LABELS.items()}
    region_of, regions = pd.factorize(contacts["jurisdiction"].astype(str), sort=True)
    k = len(regions)
    n_all = np.bincount(region_of, minlength=k)
    n_w = np.bincount(region_of, weights=withheld, minlength=k)
    by_region: dict[str, Any] = {}
    sums = {
        name: (np.bincount(region_of, weights=y * withheld, minlength=k),
               np.bincount(region_of, weights=y * ~withheld, minlength=k))
        for name, y in ys.items()
    }  # fmt: skip
    for j, region in enumerate(regions):
        allowed = int(n_all[j] - n_w[j])
        entry: dict[str, Any] = {
            "contacts": int(n_all[j]),
            "allowed": allowed,
            "withheld": int(n_w[j]),
        }
        for name, (avoided, after) in sums.items():
            entry[f"{name}_avoided"] = int(avoided[j])
            entry[f"{name}_after_allowed"] = int(after[j])
        entry["complaints_per_1000_allowed"] = (
            1000 * entry["complaints_after_allowed"] / allowed if allowed else 0.0
        )
        entry["complaints_per_1000_withheld"] = (
            1000 * entry["complaints_avoided"] / n_w[j] if n_w[j] else 0.0
        )
        by_region[str(region)] = entry
    out["by_jurisdiction"] = by_region
    # reasons: each distinct reason string is split once
    string_of, strings = pd.factorize(pd.Series(reasons, dtype=object).fillna(""), sort=True)
    m = len(strings)
    per_string = {"withheld": np.bincount(string_of, weights=withheld, minlength=m)}
    for name, y in ys.items():
        per_string[f"{name}_avoided"] = np.bincount(string_of, weights=y * withheld, minlength=m)
    by_reason: dict[str, dict[str, int]] = {}
    for j, joined in enumerate(strings):
        if not joined or not per_string["withheld"][j]:
            continue
        for code in dict.fromkeys(joined.split("|")):
            entry = by_reason.setdefault(code, dict.fromkeys(per_string, 0))
            for key, values in per_string.items():
                entry[key] += int(values[j])
    out["by_reason"] = dict(sorted(by_reason.items()))
    return out


def _totals(contacts: pd.DataFrame, withheld: np.ndarray, brief: bool = False) -> dict[str, Any]:
    n = len(contacts)
    w = int(withheld.sum())
    out: dict[str, Any] = {"contacts": n, "allowed": n - w, "withheld": w}
    if not brief:
        out["withheld_share"] = w / n if n else 0.0
    for name, label in LABELS.items():
        y = contacts[label].to_numpy(float)
        total = y.sum()
        avoided = y[withheld].sum()
        out[f"{name}_avoided"] = int(avoided)
        out[f"{name}_after_allowed"] = int(total - avoided)
        if not brief:
            out[name] = int(total)
            out[f"{name}_avoided_share"] = avoided / total if total else 0.0
        truth = TRUTH[name]
        if not brief and truth in contacts.columns and contacts[truth].notna().all():
            p = contacts[truth].to_numpy(float)
            out[f"expected_{name}_avoided"] = float(p[withheld].sum())
            out[f"expected_{name}_avoided_share"] = float(p[withheld].sum() / p.sum())
    allowed = n - w
    out["complaints_per_1000_allowed"] = (
        1000 * out["complaints_after_allowed"] / allowed if allowed else 0.0
    )
    out["complaints_per_1000_withheld"] = 1000 * out["complaints_avoided"] / w if w else 0.0
    return out


def _mask(n: int, rows: np.ndarray) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    mask[rows] = True
    return mask


def _reasons_with(contacts: pd.DataFrame, extra: np.ndarray, code: str) -> pd.Series:
    reasons = contacts["reasons"].astype(object).copy()
    reasons.iloc[extra] = code
    return reasons


def curve(contacts: pd.DataFrame, orders: dict[str, np.ndarray], shares=CURVE_SHARES) -> list:
    """Share of all complaints / opt-outs after the extra withheld contacts, per share of
    the rules-allowed contacts withheld on top of the rules, for each ranked strategy
    (``withheld_share_of_all`` gives the same point as a share of all contacts)."""
    n = base_count(contacts)
    n_all = len(contacts)
    truth = has_truth(contacts)
    sources = {name: contacts[label].to_numpy(float) for name, label in LABELS.items()}
    if truth:
        sources |= {f"expected_{k}": contacts[v].to_numpy(float) for k, v in TRUTH.items()}
    cumulative = {
        (strategy, name): np.concatenate([[0.0], np.cumsum(y[order])]) / (y.sum() or 1.0)
        for strategy, order in orders.items()
        for name, y in sources.items()
    }
    points = []
    for share in shares:
        k_all = int(round(share * n))
        point: dict[str, Any] = {
            "withheld_share": share,
            "withheld_share_of_all": k_all / n_all if n_all else 0.0,
        }
        for strategy, order in orders.items():
            k = min(len(order), k_all)
            for name in sources:
                point[f"{strategy}_{name}_avoided_share"] = float(cumulative[strategy, name][k])
        points.append(point)
    return points


def bootstrap_headline(
    contacts: pd.DataFrame,
    orders: dict[str, np.ndarray],
    share: float = HEADLINE_SHARE,
    resamples: int = 300,
    seed: int = 0,
) -> dict[str, Any]:
    """95 % intervals of the avoided shares at ``share`` (of the rules-allowed contacts, and
    ``<key>@all_contacts`` of all contacts) and of each of :data:`COMPARED` / contact count,
    observed and, on simulated data, expected — resampling **numbers** (a number's contacts
    move together; they are not independent)."""
    _, number_index = np.unique(contacts["number"].to_numpy(str), return_inverse=True)
    n_numbers = int(number_index.max()) + 1 if len(number_index) else 0
    rng = np.random.default_rng(seed)
    allowed = ~contacts["rules_withheld"].to_numpy(bool)
    ys = {name: contacts[label].to_numpy(float) for name, label in LABELS.items()}
    if has_truth(contacts):
        ys |= {f"expected_{k}": contacts[v].to_numpy(float) for k, v in TRUTH.items()}
    draws: dict[str, list[float]] = {}
    for _ in range(resamples):
        weight = np.bincount(rng.integers(0, n_numbers, n_numbers), minlength=n_numbers)
        w = weight[number_index].astype(float)
        limits = {"rules_allowed": share * w[allowed].sum(), "all_contacts": share * w.sum()}
        cut: dict[tuple[str, str], np.ndarray] = {}
        for strategy, order in orders.items():
            running = np.cumsum(w[order])
            for basis, limit in limits.items():
                k = int(np.searchsorted(running, limit, side="right"))
                cut[strategy, basis] = order[:k]
        for name, y in ys.items():
            total = (w * y).sum() or 1.0
            for basis in BASES:
                suffix = "" if basis == BASES[0] else "@all_contacts"
                got = {
                    strategy: (w[cut[strategy, basis]] * y[cut[strategy, basis]]).sum() / total
                    for strategy in orders
                }
                for strategy, value in got.items():
                    draws.setdefault(f"{strategy}_{name}{suffix}", []).append(value)
                if got.get("contact_count"):
                    for strategy in COMPARED:
                        if strategy in got:
                            draws.setdefault(f"ratio_{strategy}_{name}{suffix}", []).append(
                                got[strategy] / got["contact_count"]
                            )
    return {
        key: [float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))]
        for key, v in draws.items()
    }


def model_budget(contacts: pd.DataFrame, policy: Policy) -> tuple[np.ndarray, pd.Series, dict]:
    """Rules, then the policy's withhold threshold, then the budget per UTC day."""
    n = len(contacts)
    risk = contacts["risk"].to_numpy(float)
    p_c = contacts["p_complaint"].to_numpy(float)
    rules = contacts["rules_withheld"].to_numpy(bool)
    over = ~rules & (risk > policy.withhold_above)
    withheld = rules | over
    reasons = contacts["reasons"].astype(object).copy()
    reasons[over] = "RISK_ABOVE_THRESHOLD"
    days = contacts["ts"].dt.floor("D")
    budgets = []
    days = days.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
    for _day, rows in pd.Series(np.arange(n)).groupby(days).groups.items():
        rows = np.asarray(rows)
        open_rows = rows[~withheld[rows]]
        day_policy = policy
        if policy.max_expected_complaints is None and policy.max_contacts is None:
            # no budget given: 90 % of the expected complaints of the day's allowed contacts
            day_policy = policy.model_copy(
                update={"max_expected_complaints": 0.9 * float(p_c[open_rows].sum())}
            )
        order = open_rows[np.lexsort((open_rows, risk[open_rows]))]
        allocation = allocate_budget(((int(i), float(p_c[i])) for i in order), day_policy)
        for i in allocation.withheld:
            withheld[i] = True
            reasons.iloc[i] = "BUDGET_EXHAUSTED"
        budgets.append(day_policy.max_expected_complaints)
    info = {
        "withhold_above": policy.withhold_above,
        "max_expected_complaints_per_day": policy.max_expected_complaints,
        "max_contacts_per_day": policy.max_contacts,
        "budget_default": policy.max_expected_complaints is None and policy.max_contacts is None,
        "mean_daily_budget": float(np.mean([b for b in budgets if b is not None]))
        if any(b is not None for b in budgets)
        else None,
    }
    return withheld, reasons, info


def evaluate_strategies(
    contacts: pd.DataFrame,
    policy: Policy,
    *,
    seed: int = 0,
    thresholds: Sequence[float] = THRESHOLDS,
    resamples: int = 300,
) -> dict[str, Any]:
    """``{"strategies": {...}, "curve": [...]}`` — the content of ``backtest.json``."""
    n = len(contacts)
    if n == 0:
        raise ValueError("the window holds no outbound contacts: nothing to backtest")
    rules = contacts["rules_withheld"].to_numpy(bool)
    orders = rankings(contacts, seed)
    codes = RANKED | {name: REFERENCES[name][1] for name in references(contacts)}
    strategies: dict[str, Any] = {}
    rules_counts = counts(contacts, rules, contacts["reasons"])
    strategies["rules_only"] = rules_counts
    intervals = bootstrap_headline(contacts, orders, resamples=resamples, seed=seed)
    for strategy, code in codes.items():
        entry: dict[str, Any] = {}
        for basis in BASES:
            extra = extra_withheld(orders[strategy], base_count(contacts, basis), HEADLINE_SHARE)
            suffix = "" if basis == BASES[0] else "@all_contacts"
            figures = _avoided(contacts, extra, intervals, strategy, suffix)
            if basis == BASES[0]:
                entry |= figures
                entry["extra_withheld_at_10pct"] = len(extra)
                mask = rules | _mask(n, extra)
                entry["at_10pct"] = counts(contacts, mask, _reasons_with(contacts, extra, code))
            else:
                entry["of_all_contacts"] = {"extra_withheld_at_10pct": len(extra), **figures}
        strategies[strategy] = entry
    for basis_entry in _bases(strategies):
        base = basis_entry("contact_count")
        for strategy in COMPARED:
            if strategy not in strategies:
                continue
            entry = basis_entry(strategy)
            for name in (*LABELS, *(f"expected_{k}" for k in TRUTH)):
                key = f"{name}_avoided_share_at_10pct"
                if key not in entry:
                    continue
                entry[f"{name}_avoided_vs_contact_count_at_10pct"] = (
                    entry[key] / base[key] if base[key] else None
                )
                entry[f"{name}_avoided_vs_contact_count_at_10pct_ci95"] = entry.pop(
                    f"_ratio_{name}", None
                )
    for entry in strategies.values():
        for inner in (entry, entry.get("of_all_contacts", {})):
            for key in [k for k in inner if k.startswith("_ratio_")]:
                del inner[key]
    model = strategies["model"]
    risk = contacts["risk"].to_numpy(float)
    rows = []
    for threshold in sorted({*thresholds, policy.withhold_above}):
        over = ~rules & (risk > threshold)
        reasons = contacts["reasons"].astype(object).copy()
        reasons[over] = "RISK_ABOVE_THRESHOLD"
        rows.append({"threshold": threshold, **counts(contacts, rules | over, reasons)})
    model["thresholds"] = rows
    withheld, reasons, info = model_budget(contacts, policy)
    model["budget"] = {"policy": info, **counts(contacts, withheld, reasons)}
    headline = {
        "share": HEADLINE_SHARE,
        "of": BASES[0],
        "contacts": n,
        "rules_allowed": base_count(contacts),
        "extra_withheld": strategies["model"]["extra_withheld_at_10pct"],
    }
    return {"strategies": strategies, "curve": curve(contacts, orders), "headline": headline}


def _avoided(
    contacts: pd.DataFrame, extra: np.ndarray, intervals: dict, strategy: str, suffix: str
) -> dict[str, Any]:
    """Avoided shares of the extra withheld contacts, observed and expected, with intervals
    (and the ratio intervals, under ``_ratio_<name>``, for the caller to place)."""
    out: dict[str, Any] = {}
    for name, label in LABELS.items():
        y = contacts[label].to_numpy(float)
        out[f"{name}_avoided_share_at_10pct"] = float(y[extra].sum() / y.sum()) if y.sum() else 0.0
        out[f"{name}_avoided_share_at_10pct_ci95"] = intervals.get(f"{strategy}_{name}{suffix}")
        out[f"_ratio_{name}"] = intervals.get(f"ratio_{strategy}_{name}{suffix}")
        if has_truth(contacts):
            p = contacts[TRUTH[name]].to_numpy(float)
            key = f"expected_{name}_avoided_share_at_10pct"
            out[key] = float(p[extra].sum() / p.sum())
            out[f"{key}_ci95"] = intervals.get(f"{strategy}_expected_{name}{suffix}")
            out[f"_ratio_expected_{name}"] = intervals.get(
                f"ratio_{strategy}_expected_{name}{suffix}"
            )
    return out


def _bases(strategies: dict[str, Any]):
    """Accessors of a strategy's figures on each basis (the entry, its ``of_all_contacts``)."""
    yield lambda name: strategies[name]
    yield lambda name: strategies[name]["of_all_contacts"]
