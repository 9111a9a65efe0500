"""Counter-based random streams for the kernel (SplitMix64, one stream per number)."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from features.simulate.world import REACTION_MEAN_S

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_INV53 = 1.0 / 9007199254740992.0


@njit(cache=True, nogil=True, inline="always")
def _next(state: np.ndarray) -> np.uint64:
    """SplitMix64: a counter-based stream; one per number, so chunking changes nothing."""
    state[0] += _GOLDEN
    z = state[0]
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return z ^ (z >> _S31)


@njit(cache=True, nogil=True, inline="always")
def _uniform(state: np.ndarray) -> float:
    return float(_next(state) >> _S11) * _INV53


@njit(cache=True, nogil=True, inline="always")
def _normal(state: np.ndarray) -> float:
    u1 = 1.0 - _uniform(state)
    u2 = _uniform(state)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


@njit(cache=True, nogil=True, inline="always")
def _poisson(state: np.ndarray, mean: float) -> int:
    if mean > 30.0:
        return max(0, int(round(mean + math.sqrt(mean) * _normal(state))))
    limit = math.exp(-mean)
    k = 0
    p = _uniform(state)
    while p > limit:
        k += 1
        p *= _uniform(state)
    return k


@njit(cache=True, nogil=True, inline="always")
def _delay_in_window(state: np.ndarray, window_s: int) -> int:
    """A reaction delay in [1, window_s − 1] s: truncated exponential (most come soon)."""
    span = float(window_s - 1)
    u = _uniform(state)
    d = -REACTION_MEAN_S * math.log(1.0 - u * (1.0 - math.exp(-span / REACTION_MEAN_S)))
    return min(max(1, int(d)), window_s - 1)


@njit(cache=True, nogil=True, inline="always")
def _pick(state: np.ndarray, lo: int, count: int) -> int:
    return lo + min(int(_uniform(state) * count), count - 1)
