"""The observable ceiling: the kernel's quadrature against a dense integral."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features import simulate as sim
from features.simulate import hazard


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
        hazard._ceiling_predict(h_c, h_o, s_c, s_o, prior, like_c, like_o, node_c, node_o,
                             mix_c, mix_o)  # fmt: skip
        hazard._ceiling_update(like_c, like_o, node_c, node_o, complained, opted_out,
                            refusal_possible, refused, c7, s_o)  # fmt: skip
    return hazard._ceiling_predict(hazard_c, hazard_o, s_c, s_o, prior, like_c, like_o, node_c,
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
