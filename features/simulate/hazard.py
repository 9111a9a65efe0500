"""The observable ceiling: the sensitivity prior on a quadrature grid and the posterior
update and prediction run by the kernel for every contact."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from features.simulate.world import (
    CEILING_GRID_HALF_WIDTH,
    CEILING_GRID_POINTS,
    OPT_OUT_SENSITIVITY_SIGMA,
    P_CAP,
    REFUSAL_BASE,
    REFUSAL_PER_CONTACT_7D,
    SENSITIVITY_CORRELATION,
    SENSITIVITY_SIGMA,
)


def sensitivity_grid(
    points: int = CEILING_GRID_POINTS, half_width: float = CEILING_GRID_HALF_WIDTH
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Quadrature of the joint sensitivity prior: ``(s_complaint, s_opt_out, prior)``.

    The two log-sensitivities are standard normals ``z_c``, ``z_o`` with correlation
    :data:`SENSITIVITY_CORRELATION` (``s = exp(σ z − σ²/2)``). Each gets the same uniform grid
    of ``points`` nodes over ``±half_width``; ``prior[i, j]`` is the bivariate normal density
    at ``(z_c[i], z_o[j])``, normalised to sum 1 (trapezoid rule: it converges fast on smooth
    integrands, and a product grid keeps the likelihoods separable — a complaint depends on
    ``z_c`` only, an opt-out or a refusal on ``z_o`` only).
    """
    z = np.linspace(-half_width, half_width, points)
    rho = SENSITIVITY_CORRELATION
    zc, zo = z[:, None], z[None, :]
    log_density = -(zc**2 - 2 * rho * zc * zo + zo**2) / (2 * (1 - rho**2))
    prior = np.exp(log_density - log_density.max())
    prior /= prior.sum()
    s_c = np.exp(SENSITIVITY_SIGMA * z - 0.5 * SENSITIVITY_SIGMA**2)
    s_o = np.exp(OPT_OUT_SENSITIVITY_SIGMA * z - 0.5 * OPT_OUT_SENSITIVITY_SIGMA**2)
    return s_c, s_o, np.ascontiguousarray(prior)


@njit(cache=True, nogil=True, inline="always")
def _one_minus_exp_neg(x: float) -> float:
    """``min(1 − exp(−x), P_CAP)``; a Taylor polynomial for small ``x`` (relative error
    < 3e-10 below 0.1, where most hazards are) saves the exponential."""
    if x < 0.1:
        return x * (1.0 - x * (0.5 - x * (1.0 / 6.0 - x * (1.0 / 24.0 - x * (
            1.0 / 120.0 - x / 720.0)))))  # fmt: skip
    return min(-math.expm1(-x), P_CAP)


@njit(cache=True, nogil=True)
def _ceiling_predict(hazard_c, hazard_o, s_c, s_o, prior, like_c, like_o, p_c, p_o, mix_c, mix_o):
    """E[p | observed history] of one contact: the true probability averaged over the
    sensitivity posterior ``prior · like_c ⊗ like_o`` (likelihoods of the earlier outcomes).

    ``hazard_*`` is ``exp(Σ βᵢ·xᵢ)`` (the hazard without the sensitivity). Leaves each node's
    true probability in ``p_c`` / ``p_o`` for :func:`_ceiling_update`; ``mix_*`` are scratch.
    Returns ``(p_complaint, p_opt_out)``.
    """
    k = s_c.shape[0]
    for i in range(k):
        p_c[i] = _one_minus_exp_neg(s_c[i] * hazard_c)
        p_o[i] = _one_minus_exp_neg(s_o[i] * hazard_o)
        mix_c[i] = 0.0
        mix_o[i] = 0.0
    # marginal weights: mix_c = prior · like_o, mix_o = priorᵀ · like_c (the grid prior is
    # symmetric: both log-sensitivities share the grid and are standard normal), written
    # as row updates so the inner loop vectorises
    for i in range(k):
        lc = like_c[i]
        lo = like_o[i]
        for j in range(k):
            mix_c[j] += prior[i, j] * lo
            mix_o[j] += prior[i, j] * lc
    num_c = 0.0
    num_o = 0.0
    total = 0.0
    for i in range(k):
        w_c = like_c[i] * mix_c[i]
        total += w_c
        num_c += w_c * p_c[i]
        num_o += like_o[i] * mix_o[i] * p_o[i]
    return num_c / total, num_o / total


@njit(cache=True, nogil=True)
def _ceiling_update(like_c, like_o, p_c, p_o, complained, opted_out, refusal_possible, refused,
                    contacts_7d, s_o):  # fmt: skip
    """Multiply in the likelihood of one contact's observed outcomes (in place).

    A complaint (or none) tells about ``s_c``; an opt-out (or none) and, on an answered
    marketing call that was not a short hang-up, a refusal (or none) tell about ``s_o``.
    Only ratios matter: a vector is rescaled when its maximum gets small (no underflow).
    """
    k = like_c.shape[0]
    top_c = 0.0
    top_o = 0.0
    ref_scale = REFUSAL_BASE * (1.0 + REFUSAL_PER_CONTACT_7D * contacts_7d)
    for i in range(k):
        like_c[i] *= p_c[i] if complained else 1.0 - p_c[i]
        f = p_o[i] if opted_out else 1.0 - p_o[i]
        if refusal_possible:
            p_ref = min(ref_scale * s_o[i], P_CAP)
            f *= p_ref if refused else 1.0 - p_ref
        like_o[i] *= f
        top_c = max(top_c, like_c[i])
        top_o = max(top_o, like_o[i])
    if top_c < 1e-100:
        for i in range(k):
            like_c[i] /= top_c
    if top_o < 1e-100:
        for i in range(k):
            like_o[i] /= top_o
