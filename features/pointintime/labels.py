"""The one definition of the labels ``complaint_7d`` and ``opt_out_7d``.

A contact at ``t`` is labelled with a complaint (an opt-out, an opt-out reply included) at
``s`` when

    ``t <= s < t + horizon``  and  ``s`` is earlier than the next contact to the number after ``t``

(``horizon`` is 7 days). Contacts sharing an instant share their window; a reaction at the
instant of the next contact belongs to that next contact.

Why ``[t, t + 7 d)`` and not ``(t, t + 7 d]``: the features of a contact read the events
strictly before ``t`` and its label the events from ``t`` on, so around each contact every
event is either something the model could see or something it predicts, never both and never
neither. Windows are half-open like the features' ``[t - N d, t)``, and the window of one
contact ends where the next contact's begins, so every reaction is attributed to exactly one
contact instant: with ``(t, …]`` and "before the next contact", a reaction at the very instant
of a later contact would count for no contact at all, and one at ``t`` (timestamps often have
one-second resolution: a hang-up and its complaint can share a second) would be lost.

The training frame (:func:`features.pointintime.build_training_frame`) and the simulator's
summary both label through :func:`contact_labels`; :func:`label_contacts` is its form for
arrays in microseconds with the 7-day horizon.
"""

from __future__ import annotations

import numba
import numpy as np

#: The label horizon the targets are named after (``complaint_7d``, ``opt_out_7d``).
HORIZON_DAYS = 7


@numba.njit(cache=True, nogil=True)
def _label_kernel(code, ts, is_contact, is_complaint, is_opt_out, horizon, complaint, opt_out):
    """Rows sorted by (code, ts), ties in any order; writes the labels of contact rows."""
    n = len(ts)
    g0 = 0
    while g0 < n:
        g1 = g0
        while g1 < n and code[g1] == code[g0]:
            g1 += 1
        before_c = 0  # reactions in [g0, b0)
        before_o = 0
        right = g0  # reactions in [g0, right) are counted in right_c / right_o
        right_c = 0
        right_o = 0
        next_contact = g0  # first contact row at or after the current block's end
        b0 = g0
        while b0 < g1:
            t = ts[b0]
            b1 = b0
            block_contact = False
            block_c = 0
            block_o = 0
            while b1 < g1 and ts[b1] == t:
                block_contact = block_contact or is_contact[b1]
                block_c += is_complaint[b1]
                block_o += is_opt_out[b1]
                b1 += 1
            if block_contact:
                # window end: min(t + horizon, the next contact strictly after t)
                if next_contact < b1:
                    next_contact = b1
                while next_contact < g1 and not is_contact[next_contact]:
                    next_contact += 1
                end_t = t + horizon
                if next_contact < g1 and ts[next_contact] < end_t:
                    end_t = ts[next_contact]
                if right < b0:
                    right = b0
                    right_c = before_c
                    right_o = before_o
                while right < g1 and ts[right] < end_t:
                    right_c += is_complaint[right]
                    right_o += is_opt_out[right]
                    right += 1
                for i in range(b0, b1):
                    if is_contact[i]:
                        complaint[i] = right_c > before_c
                        opt_out[i] = right_o > before_o
            before_c += block_c
            before_o += block_o
            b0 = b1
        g0 = g1


def contact_labels(
    number_code: np.ndarray,
    ts: np.ndarray,
    is_contact: np.ndarray,
    is_complaint: np.ndarray,
    is_opt_out: np.ndarray,
    horizon: int,
) -> tuple[np.ndarray, np.ndarray]:
    """(complaint, opt_out) bool per row, True on contact rows whose window (see the module)
    holds a complaint / an opt-out. Rows sorted by (number, ts); ``ts`` and ``horizon`` in
    one integer unit."""
    n = len(ts)
    complaint = np.zeros(n, dtype=np.bool_)
    opt_out = np.zeros(n, dtype=np.bool_)
    if n:
        _label_kernel(
            np.ascontiguousarray(number_code, dtype=np.int64),
            np.ascontiguousarray(ts, dtype=np.int64),
            np.ascontiguousarray(is_contact, dtype=np.bool_),
            np.ascontiguousarray(is_complaint, dtype=np.bool_),
            np.ascontiguousarray(is_opt_out, dtype=np.bool_),
            np.int64(horizon),
            complaint,
            opt_out,
        )
    return complaint, opt_out


def label_contacts(
    number_code: np.ndarray,
    ts: np.ndarray,
    is_contact: np.ndarray,
    is_complaint: np.ndarray,
    is_opt_out: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """``complaint_7d`` / ``opt_out_7d`` for every row (meaningful on contact rows).

    Rows sorted by (number, ts), simultaneous events in any order; ``ts`` in microseconds
    since the epoch. The definition is the module's.
    """
    horizon_us = HORIZON_DAYS * 86_400 * 1_000_000
    return contact_labels(number_code, ts, is_contact, is_complaint, is_opt_out, horizon_us)
