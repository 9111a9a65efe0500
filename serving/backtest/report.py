"""The backtest's plots and its HTML report: self-contained (plots inlined, no scripts)."""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any

#: Strategies drawn on the curve (the complaint-only references are in the tables only).
_COLOURS = {
    "model": "#1f77b4", "model_complaint": "#ff7f0e", "contact_count": "#7f7f7f",
    "random": "#d62728", "oracle": "#2ca02c", "observable_ceiling": "#9467bd",
}  # fmt: skip
_NAMES = {
    "model": "model risk", "model_complaint": "model complaint risk",
    "contact_count": "contact count", "random": "random", "oracle": "oracle (true p)",
    "observable_ceiling": "observable ceiling",
    "oracle_complaint": "oracle, complaint p only",
    "observable_ceiling_complaint": "observable ceiling, complaint p only",
}  # fmt: skip
#: Simulated data only: drawn from the true probabilities alone (their observed curve is noise).
_REFERENCES = ("oracle", "observable_ceiling")

LIMITATIONS = (
    "Outcomes of withheld contacts are what happened when they were made. Withholding a "
    "contact would have changed what came after it: the person would not have been called, "
    "their later contacts, hang-ups and complaints would differ, and a campaign would have "
    "called someone else instead. The figures are what the strategy would have withheld from "
    "this history, not a prediction of a different history.",
    "A complaint or opt-out counts for the contact it follows within 7 days (before the next "
    "contact): the model's own label definition. A contact whose 7-day window runs past the "
    "end of the data may be missing a reaction.",
    "Strategies act on top of the rules, on the contacts the rules allow: the withheld share "
    "on the curve and in the headline is of those contacts (what a strategy can still "
    "withhold); the avoided share is of all complaints or opt-outs of the window, the rules' "
    "included. backtest.json gives the same figures as shares of all contacts "
    "(of_all_contacts).",
    "Contact count breaks its many ties at random; its figures move with the seed a little.",
    "Intervals resample numbers (a number's contacts move together), 95 % percentile.",
)


def curve_plot(curve: list[dict[str, Any]], path: Path, truth: bool) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    x = [100 * p["withheld_share"] for p in curve]
    for ax, name, title in zip(axes, ("complaints", "opt_outs"), ("complaints", "opt-outs"), strict=True):  # fmt: skip
        for strategy, colour in _COLOURS.items():
            if f"{strategy}_{name}_avoided_share" not in curve[0]:
                continue
            if strategy not in _REFERENCES:
                y = [100 * p[f"{strategy}_{name}_avoided_share"] for p in curve]
                ax.plot(x, y, color=colour, label=f"{_NAMES[strategy]} (observed)")
            key = f"{strategy}_expected_{name}_avoided_share"
            if truth and key in curve[0]:
                y = [100 * p[key] for p in curve]
                ax.plot(x, y, color=colour, linestyle="--", linewidth=1,
                        label=f"{_NAMES[strategy]} (expected, true p)")  # fmt: skip
        ax.axvline(10, color="#bbbbbb", linewidth=0.8)
        ax.set_xlabel("contacts withheld on top of the rules (% of the contacts they allow)")
        ax.set_title(f"{title} avoided (% of all in the window)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("% avoided")
    axes[0].legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.1f} %"


def _ci(v: list[float] | None, pct: bool = True) -> str:
    if not v:
        return ""
    return f" ({_pct(v[0])} – {_pct(v[1])})" if pct else f" ({v[0]:.2f} – {v[1]:.2f})"


def _ratio(entry: dict[str, Any], name: str) -> str:
    ratio = entry.get(f"{name}_avoided_vs_contact_count_at_10pct")
    if ratio is None:
        return "–" if f"{name}_avoided_vs_contact_count_at_10pct" in entry else ""
    return f"{ratio:.2f}×" + _ci(entry.get(f"{name}_avoided_vs_contact_count_at_10pct_ci95"), False)


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _count_row(label: str, c: dict[str, Any], truth: bool) -> list[Any]:
    row = [
        label, f"{c['contacts']:,}", f"{c['allowed']:,}", f"{c['withheld']:,}",
        _pct(c["withheld_share"]), f"{c['complaints_avoided']:,}",
        f"{c['complaints_after_allowed']:,}", f"{c['opt_outs_avoided']:,}",
        f"{c['opt_outs_after_allowed']:,}", f"{c['complaints_per_1000_allowed']:.2f}",
    ]  # fmt: skip
    if truth:
        row.append(f"{c.get('expected_complaints_avoided', 0):.1f}")
    return row


_COUNT_HEADERS = [
    "strategy", "contacts", "allowed", "withheld", "withheld %", "complaints avoided",
    "complaints after allowed", "opt-outs avoided", "opt-outs after allowed",
    "complaints / 1,000 allowed",
]  # fmt: skip


def _ranking_sentence(
    s: dict[str, Any], name: str, ceiling_name: str, lead: str, truth: bool
) -> str:
    """The headline's figures of one ranking of the model: its observed complaints avoided
    (the first ranking's are already said), the ratio in expectation and its ceiling."""
    entry = s.get(name)
    if not entry:
        return ""
    out = ""
    ratio = entry.get("complaints_avoided_vs_contact_count_at_10pct")
    if lead:
        versus = (
            f"<b>{ratio:.2f}×</b>"
            f"{_ci(entry['complaints_avoided_vs_contact_count_at_10pct_ci95'], False)} contact count"
            if ratio
            else "no ratio to contact count, which avoided none"
        )
        out += (
            f"{lead}<b>{_pct(entry['complaints_avoided_share_at_10pct'])}</b>"
            f"{_ci(entry['complaints_avoided_share_at_10pct_ci95'])} — {versus} — and "
            f"{_pct(entry['opt_outs_avoided_share_at_10pct'])} of the opt-outs "
            f"(model risk: {_pct(s['model']['opt_outs_avoided_share_at_10pct'])})."
        )
    expected = entry.get("expected_complaints_avoided_vs_contact_count_at_10pct")
    if truth and expected:
        ci = entry.get("expected_complaints_avoided_vs_contact_count_at_10pct_ci95")
        out += (
            f" In expectation (the simulator's true probabilities): <b>{expected:.2f}×</b>"
            f"{_ci(ci, False)}"
        )
        ceiling = s.get(ceiling_name, {}).get(
            "expected_complaints_avoided_vs_contact_count_at_10pct"
        )
        if ceiling:
            out += f"; the best any model of the history could do: {ceiling:.2f}×"
        out += "."
    return out


def render(result: dict[str, Any], meta: dict[str, Any], plot: Path) -> str:
    """The report as one HTML page."""
    s = result["strategies"]
    truth = bool(meta.get("simulated"))
    model, count = s["model"], s["contact_count"]
    image = base64.b64encode(plot.read_bytes()).decode("ascii")
    ratio = model.get("complaints_avoided_vs_contact_count_at_10pct")
    headline = (
        f"Withholding 10 % of the contacts the rules allow ({model['extra_withheld_at_10pct']:,} "
        f"of {s['rules_only']['allowed']:,}), the model avoids "
        f"<b>{_pct(model['complaints_avoided_share_at_10pct'])}</b>"
        f"{_ci(model['complaints_avoided_share_at_10pct_ci95'])} of the window's complaints; "
        f"withholding by contact count avoids <b>{_pct(count['complaints_avoided_share_at_10pct'])}</b>"
        f"{_ci(count['complaints_avoided_share_at_10pct_ci95'])}"
        + (
            f" — <b>{ratio:.2f}×</b>{_ci(model['complaints_avoided_vs_contact_count_at_10pct_ci95'], False)}."
            if ratio
            else "."
        )
    )
    for name, ceiling_name, lead in (
        ("model", "observable_ceiling", ""),
        ("model_complaint", "observable_ceiling_complaint",
         " Ranked by its complaint probability alone (what a campaign counting complaints "
         "would rank by), the model avoids "),
    ):  # fmt: skip
        headline += _ranking_sentence(s, name, ceiling_name, lead, truth)
    headers = _COUNT_HEADERS + (["expected complaints avoided (true p)"] if truth else [])
    rows = [_count_row("rules only", s["rules_only"], truth)]
    ranked = [name for name in _NAMES if name in s]
    for name in ranked:
        rows.append(_count_row(f"rules + {_NAMES[name]} @10 %", s[name]["at_10pct"], truth))
    for t in model["thresholds"]:
        rows.append(_count_row(f"rules + risk > {t['threshold']:g}", t, truth))
    rows.append(_count_row("rules + threshold + budget", model["budget"], truth))
    share_rows = []
    for name in ranked:
        for basis, e in (("allowed", s[name]), ("all", s[name]["of_all_contacts"])):
            r = [
                f"{_NAMES[name]}, 10 % of {'the allowed' if basis == 'allowed' else 'all'}",
                _pct(e["complaints_avoided_share_at_10pct"]) + _ci(e["complaints_avoided_share_at_10pct_ci95"]),
                _pct(e["opt_outs_avoided_share_at_10pct"]) + _ci(e["opt_outs_avoided_share_at_10pct_ci95"]),
                _ratio(e, "complaints"),
            ]  # fmt: skip
            if truth:
                r += [
                    _pct(e.get("expected_complaints_avoided_share_at_10pct")),
                    _ratio(e, "expected_complaints"),
                    _pct(e.get("expected_opt_outs_avoided_share_at_10pct")),
                ]
            share_rows.append(r)
    share_headers = ["withheld on top of the rules", "complaints avoided (observed, 95 % CI)",
                     "opt-outs avoided (observed, 95 % CI)", "÷ contact count"]  # fmt: skip
    if truth:
        share_headers += ["complaints avoided (expected)", "÷ contact count (expected)",
                          "opt-outs avoided (expected)"]  # fmt: skip
    jur_rows = []
    for region in sorted(s["rules_only"]["by_jurisdiction"]):
        r = [region]
        for _name, c in (("rules", s["rules_only"]), ("model", model["at_10pct"]),
                        ("count", count["at_10pct"])):  # fmt: skip
            j = c["by_jurisdiction"][region]
            r += [f"{j['withheld']:,}", f"{j['complaints_avoided']:,}"]
        r.append(f"{s['rules_only']['by_jurisdiction'][region]['contacts']:,}")
        jur_rows.append(r)
    jur_headers = ["jurisdiction", "rules: withheld", "rules: complaints avoided",
                   "+model: withheld", "+model: complaints avoided", "+count: withheld",
                   "+count: complaints avoided", "contacts"]  # fmt: skip
    reasons = {}
    for label, c in (("rules only", s["rules_only"]), ("+ model @10 %", model["at_10pct"]),
                     ("+ budget", model["budget"])):  # fmt: skip
        for code, e in c["by_reason"].items():
            reasons.setdefault(code, {})[label] = e
    reason_rows = [
        [code, *(
            f"{v[label]['withheld']:,} / {v[label]['complaints_avoided']:,} / {v[label]['opt_outs_avoided']:,}"
            if label in v else "–"
            for label in ("rules only", "+ model @10 %", "+ budget")
        )]
        for code, v in sorted(reasons.items())
    ]  # fmt: skip
    meta_rows = [[k, v] for k, v in meta.items() if not isinstance(v, (dict, list))]
    limitations = "".join(f"<li>{html.escape(t)}</li>" for t in LIMITATIONS)
    assumptions = "".join(f"<li>{html.escape(t)}</li>" for t in meta.get("assumptions", []))
    truth_note = (
        "<p>On simulated data every contact carries the simulator's true complaint and opt-out "
        "probabilities: the <i>expected</i> figures (dashed on the curve) sum them over the "
        "withheld contacts — what withholding would avoid on average, free of the luck of "
        "which contacts happened to draw a complaint.</p>"
        if truth
        else ""
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>contactgate backtest</title>
<style>
body{{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}}
table{{border-collapse:collapse;margin:1em 0;font-size:13px}}
th,td{{border:1px solid #ccc;padding:3px 7px;text-align:right}}
th{{background:#f3f3f3}} td:first-child,th:first-child{{text-align:left}}
.headline{{font-size:17px;background:#f6f9ff;border-left:4px solid #1f77b4;padding:.6em 1em}}
</style></head><body>
<h1>Backtest: {html.escape(str(meta.get("window_start")))} to {html.escape(str(meta.get("window_end")))}</h1>
<p class="headline" id="headline">{headline}</p>
<h2>Avoided against withheld</h2>
<img id="curve" alt="complaints and opt-outs avoided against contacts withheld" src="data:image/png;base64,{image}" width="1000">
<h2>At 10 % of contacts withheld</h2>
<p>On top of the rules: 10 % of the contacts the rules allow (the headline), and 10 % of all
the window's contacts beside it. Avoided shares are of all complaints (opt-outs) of the
window.{" The oracle ranks by the simulator's true probabilities; the observable ceiling by the best probabilities any model of the history could know (the person's latent sensitivity integrated over what their history shows)." if truth else ""}</p>
{_table(share_headers, share_rows)}
<h2>Strategies on the same {s["rules_only"]["contacts"]:,} contacts</h2>
{_table(headers, rows)}
<h2>By jurisdiction</h2>
{_table(jur_headers, jur_rows)}
<h2>By reason (withheld / complaints avoided / opt-outs avoided)</h2>
{_table(["reason", "rules only", "+ model @10 %", "+ threshold + budget"], reason_rows)}
<h2 id="limitations">Limitations: what these figures are and are not</h2>
<ul>{limitations}</ul>
{truth_note}
<h2>Assumptions of this run</h2>
<ul>{assumptions}</ul>
<h2>Run</h2>
{_table(["", ""], meta_rows)}
</body></html>
"""
