"""The compiled kernels, and the named slots they read and write.

Every event row carries :class:`Flag` bits (set by :mod:`features.pointintime.encode`); the
history kernel keeps one running total per bit and writes its outputs into the rows of
``ints`` / ``floats`` named by :class:`IntSlot` / :class:`FloatSlot`. The assembly
(:mod:`features.pointintime.assemble`) names each output column after its slot, so a new
feature is a slot here and the line of the kernel that fills it.

The slots live in this module on purpose: numba's on-disk cache is keyed on the kernel's own
source file, so constants the kernels read must be defined beside them.
"""

from __future__ import annotations

from enum import IntEnum

import numba
import numpy as np

from features.definitions import COUNT_WINDOWS_DAYS


class Flag(IntEnum):
    """Bits of an event row's ``flags`` (all 0 on a query row: nothing sees it)."""

    CONTACT = 0  # an outbound contact
    CALL = 1  # ... by call
    SMS = 2  # ... by SMS
    MARKETING = 3  # ... whose purpose is not service
    ANSWERED = 4  # ... answered
    ANSWERED_CALL = 5  # ... an answered call
    SHORT = 6  # ... answered and hung up within SHORT_HANGUP_SECONDS
    NIGHT = 7  # ... at night, local time
    COMPLAINT = 8  # a complaint
    OPT_OUT = 9  # an opt-out, or a reply that reads as one
    REFUSAL = 10  # a refusal


N_FLAGS = len(Flag)

#: Count scopes of the ``counts`` output: scope ``s`` counts the events with flag bit ``s``.
COUNT_SCOPES: dict[str, Flag] = {
    "contacts": Flag.CONTACT,
    "call_contacts": Flag.CALL,
    "sms_contacts": Flag.SMS,
    "marketing_contacts": Flag.MARKETING,
}
assert list(COUNT_SCOPES.values()) == list(range(len(COUNT_SCOPES)))


class IntSlot(IntEnum):
    """Rows of the history kernel's ``ints`` output; the lower-case name is the feature."""

    UNANSWERED_STREAK = 0
    SHORT_HANGUPS_30D = 1
    COMPLAINTS_90D = 2
    COMPLAINTS_EVER = 3
    OPT_OUTS_90D = 4
    OPT_OUTS_EVER = 5
    REFUSALS_90D = 6
    REFUSALS_EVER = 7
    DISTINCT_CAMPAIGNS_30D = 8


class FloatSlot(IntEnum):
    """Rows of the history kernel's ``floats`` output; the lower-case name is the feature."""

    HOURS_SINCE_LAST_CONTACT = 0
    HOURS_SINCE_LAST_ANSWERED = 1
    ANSWER_RATE_30D = 2
    NIGHT_SHARE = 3


N_WINDOWS = len(COUNT_WINDOWS_DAYS)
W30 = COUNT_WINDOWS_DAYS.index(30)
W90 = COUNT_WINDOWS_DAYS.index(90)
W_LONG = N_WINDOWS  # LONG_WINDOW_DAYS, appended after the count windows
N_SCOPES = len(COUNT_SCOPES)


@numba.njit(cache=True, nogil=True)
def history_kernel(
    code,  # int64 [n] number key code (sorted)
    ts,  # int64 [n] ns (sorted within code)
    flags,  # uint16 [n] Flag bits
    campaign,  # int64 [n] campaign code, -1 = none
    n_campaigns,
    windows,  # int64 [W] window lengths in ns
    out_pos,  # int64 [n] output row of a query row, -1 otherwise
    counts,  # int32 [N_SCOPES, W, n_out]
    ints,  # int32 [len(IntSlot), n_out]
    floats,  # float64 [len(FloatSlot), n_out]
):
    n = len(ts)
    n_w = len(windows)
    camp_count = np.zeros(n_campaigns, dtype=np.int32)
    tot = np.zeros(N_FLAGS, dtype=np.int64)  # totals of everything strictly before the block
    left = np.zeros(n_w, dtype=np.int64)  # each window's left pointer
    behind = np.zeros((n_w, N_FLAGS), dtype=np.int64)  # totals behind each left pointer
    g0 = 0
    while g0 < n:
        g1 = g0
        while g1 < n and code[g1] == code[g0]:
            g1 += 1
        tot[:] = 0
        left[:] = g0
        behind[:, :] = 0
        last_contact = np.int64(-1)
        has_contact = False
        last_answered = np.int64(-1)
        has_answered = False
        streak = 0
        distinct = 0
        b0 = g0
        while b0 < g1:
            t = ts[b0]
            b1 = b0
            while b1 < g1 and ts[b1] == t:
                b1 += 1
            # advance the window pointers past events older than t - window
            for w in range(n_w):
                lo = t - windows[w]
                while left[w] < b0 and ts[left[w]] < lo:
                    f = flags[left[w]]
                    # branch-free: only the bits this window's features read
                    for bit in range(N_SCOPES):
                        behind[w, bit] += (f >> bit) & 1
                    if w == W30:
                        behind[w, Flag.ANSWERED_CALL] += (f >> Flag.ANSWERED_CALL) & 1
                        behind[w, Flag.SHORT] += (f >> Flag.SHORT) & 1
                    elif w == W90:
                        behind[w, Flag.COMPLAINT] += (f >> Flag.COMPLAINT) & 1
                        behind[w, Flag.OPT_OUT] += (f >> Flag.OPT_OUT) & 1
                        behind[w, Flag.REFUSAL] += (f >> Flag.REFUSAL) & 1
                    if w == W30 and (f >> Flag.CONTACT) & 1 and campaign[left[w]] >= 0:
                        c = campaign[left[w]]
                        camp_count[c] -= 1
                        if camp_count[c] == 0:
                            distinct -= 1
                    left[w] += 1
            # features of the query rows of this block, from earlier blocks only
            for i in range(b0, b1):
                o = out_pos[i]
                if o < 0:
                    continue
                for s in range(N_SCOPES):
                    for w in range(n_w):
                        counts[s, w, o] = tot[s] - behind[w, s]
                ints[IntSlot.UNANSWERED_STREAK, o] = streak
                ints[IntSlot.SHORT_HANGUPS_30D, o] = tot[Flag.SHORT] - behind[W30, Flag.SHORT]
                ints[IntSlot.COMPLAINTS_90D, o] = tot[Flag.COMPLAINT] - behind[W90, Flag.COMPLAINT]
                ints[IntSlot.COMPLAINTS_EVER, o] = tot[Flag.COMPLAINT]
                ints[IntSlot.OPT_OUTS_90D, o] = tot[Flag.OPT_OUT] - behind[W90, Flag.OPT_OUT]
                ints[IntSlot.OPT_OUTS_EVER, o] = tot[Flag.OPT_OUT]
                ints[IntSlot.REFUSALS_90D, o] = tot[Flag.REFUSAL] - behind[W90, Flag.REFUSAL]
                ints[IntSlot.REFUSALS_EVER, o] = tot[Flag.REFUSAL]
                ints[IntSlot.DISTINCT_CAMPAIGNS_30D, o] = distinct
                floats[FloatSlot.HOURS_SINCE_LAST_CONTACT, o] = (
                    (t - last_contact) / 3.6e12 if has_contact else np.nan
                )
                floats[FloatSlot.HOURS_SINCE_LAST_ANSWERED, o] = (
                    (t - last_answered) / 3.6e12 if has_answered else np.nan
                )
                calls30 = tot[Flag.CALL] - behind[W30, Flag.CALL]
                answered30 = tot[Flag.ANSWERED_CALL] - behind[W30, Flag.ANSWERED_CALL]
                floats[FloatSlot.ANSWER_RATE_30D, o] = (
                    answered30 / calls30 if calls30 > 0 else np.nan
                )
                floats[FloatSlot.NIGHT_SHARE, o] = (
                    tot[Flag.NIGHT] / tot[Flag.CONTACT] if tot[Flag.CONTACT] > 0 else np.nan
                )
            # add the block to the running totals
            block_answered_call = False
            block_calls = 0
            for i in range(b0, b1):
                f = flags[i]
                for bit in range(N_FLAGS):
                    tot[bit] += (f >> bit) & 1
                if (f >> Flag.CONTACT) & 1:
                    last_contact = t
                    has_contact = True
                    c = campaign[i]
                    if c >= 0:
                        if camp_count[c] == 0:
                            distinct += 1
                        camp_count[c] += 1
                if (f >> Flag.ANSWERED) & 1:
                    last_answered = t
                    has_answered = True
                if (f >> Flag.CALL) & 1:
                    block_calls += 1
                    if (f >> Flag.ANSWERED_CALL) & 1:
                        block_answered_call = True
            streak = 0 if block_answered_call else streak + block_calls
            b0 = b1
        # forget this number's campaigns still inside the 30-day window
        for i in range(left[W30], g1):
            if (flags[i] >> Flag.CONTACT) & 1 and campaign[i] >= 0:
                camp_count[campaign[i]] -= 1
        g0 = g1


@numba.njit(cache=True, nogil=True)
def same_subject_kernel(code, subject, ts, flags, windows, out_pos, counts):
    """Prior contacts with the same (number, subject) per window; rows sorted by
    (code, subject, ts). ``flags`` holds the Flag.CONTACT bit only (a counted contact)."""
    n = len(ts)
    n_w = len(windows)
    left = np.zeros(n_w, dtype=np.int64)
    behind = np.zeros(n_w, dtype=np.int64)
    g0 = 0
    while g0 < n:
        g1 = g0
        while g1 < n and code[g1] == code[g0] and subject[g1] == subject[g0]:
            g1 += 1
        tot = 0
        left[:] = g0
        behind[:] = 0
        b0 = g0
        while b0 < g1:
            t = ts[b0]
            b1 = b0
            while b1 < g1 and ts[b1] == t:
                b1 += 1
            for w in range(n_w):
                lo = t - windows[w]
                while left[w] < b0 and ts[left[w]] < lo:
                    behind[w] += (flags[left[w]] >> Flag.CONTACT) & 1
                    left[w] += 1
            for i in range(b0, b1):
                o = out_pos[i]
                if o >= 0:
                    for w in range(n_w):
                        counts[w, o] = tot - behind[w]
            for i in range(b0, b1):
                tot += (flags[i] >> Flag.CONTACT) & 1
            b0 = b1
        g0 = g1


#: Consent scopes as the consent kernel reads them (see ``encode.consent_codes``).
CHANNEL_CALL, CHANNEL_SMS, CHANNEL_ANY = 0, 1, 2
PURPOSE_MARKETING, PURPOSE_SERVICE = 0, 1


@numba.njit(cache=True, nogil=True)
def consent_kernel(
    q_code, q_ts, q_channel, q_purpose, c_start, c_end, c_granted, c_revoked, c_channel,
    c_purpose, c_type, days, types,
):  # fmt: skip
    """Latest consent per query: granted < t, not revoked < t, channel matches (or is any),
    purpose matches."""
    for q in range(len(q_code)):
        k = q_code[q]
        t = q_ts[q]
        best = -1
        for j in range(c_start[k], c_end[k]):
            if c_granted[j] >= t:
                continue
            if c_revoked[j] < t:
                continue
            if c_channel[j] != CHANNEL_ANY and c_channel[j] != q_channel[q]:
                continue
            if c_purpose[j] != q_purpose[q]:
                continue
            if best < 0 or c_granted[j] >= c_granted[best]:
                best = j
        if best >= 0:
            days[q] = (t - c_granted[best]) / 8.64e13
            types[q] = c_type[best]
