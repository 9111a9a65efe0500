"""The numba kernel that simulates numbers one after another, with its event emitters."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from features.simulate.hazard import _ceiling_predict, _ceiling_update
from features.simulate.rng import _MIX1, _delay_in_window, _next, _normal, _pick, _poisson, _uniform
from features.simulate.world import (
    CAP_1D,
    CAP_7D,
    CAP_30D,
    CAP_REFUSALS,
    CAP_SHORT,
    CAP_STREAK,
    CH_CALL,
    CH_SMS,
    COMPLAINT_ADDS_DNC,
    CONSENT_SHARE,
    CT_EXPRESS,
    CT_IMPLIED,
    CT_SOFT,
    CT_WRITTEN,
    D_MANUAL,
    D_PREDICTIVE,
    D_PRERECORDED,
    DAY,
    HOUR_ANSWER,
    INTENSITY_SIGMA,
    K_COMPLAINT,
    K_CONTACT,
    K_CONTRACT_END,
    K_CONTRACT_START,
    K_INQUIRY,
    K_OPT_IN,
    K_OPT_OUT,
    K_PURCHASE,
    K_REFUSAL,
    K_REPLY,
    LANG_ES,
    LEAK_MARKETING,
    MAX_ATTEMPTS,
    MAX_CALL_S,
    MAX_EVENTS_PER_NUMBER,
    MAX_TOUCHES,
    MIN_GAP_S,
    NIGHT_HOURS,
    O_ABANDONED,
    O_AMD,
    O_ANSWERED,
    O_BUSY,
    O_DELIVERED,
    O_FAILED,
    O_NO_ANSWER,
    O_VOICEMAIL,
    OPT_OUT_AS_REPLY_SMS,
    OPT_OUT_CALL_ADDS_DNC,
    OPT_OUT_SENSITIVITY_SIGMA,
    ORDINARY_REPLY_SMS,
    P_CAP,
    P_MARKETING,
    P_SERVICE,
    PRE_DNC_SHARE,
    REFUSAL_ADDS_DNC,
    REFUSAL_BASE,
    REFUSAL_PER_CONTACT_7D,
    RETRY_MEAN_S,
    RETRY_MIN_S,
    SENSITIVITY_CORRELATION,
    SENSITIVITY_SIGMA,
    SERVICE_AFTER_OPT_OUT,
    TOUCHES_PER_180_DAYS,
    WEEK,
)

_NEW, _OPEN, _CLOSED = 0, 1, 2
_FAR = np.int64(2**62)


@njit(cache=True, nogil=True)
def _eligible(j, ct, ctouch, cattempt, ccamp, camp_purpose, camp_channel, ukeep, touch_state,
              last_t, optout_from, dnc_all_from, dnc_call_from, pre_from, pre_until):  # fmt: skip
    """Whether candidate ``j`` goes out, given the number's state (also used to look ahead)."""
    t = ct[j]
    if cattempt[j] > 0 and touch_state[ctouch[j]] != _OPEN:
        return False
    if t < last_t + MIN_GAP_S:
        return False
    c = ccamp[j]
    if camp_purpose[c] == P_MARKETING:
        blocked = t > optout_from or t > dnc_all_from or (pre_from < t and t < pre_until)
        if camp_channel[c] == CH_CALL and t > dnc_call_from:
            blocked = True
        if blocked and ukeep[j] >= LEAK_MARKETING:
            return False
    elif t > optout_from and ukeep[j] >= SERVICE_AFTER_OPT_OUT:
        return False
    return True


@njit(cache=True, nogil=True)
def _simulate_numbers(
    first, gidx, number_zone, number_lang_default, number_spanish_share,
    camp_channel, camp_purpose, camp_dial, camp_start_day, camp_end_day, camp_night,
    camp_attempts, camp_cdf,
    offsets, offsets_t0, text_lo, text_n,
    t0, days, seed_key, wc, wo, grid_sc, grid_so, grid_prior,
    ev_num, ev_seq, ev_ts, ev_kind, ev_channel, ev_purpose, ev_campaign, ev_dial, ev_outcome,
    ev_duration, ev_text, ev_source, ev_pc, ev_po, ev_pc_obs, ev_po_obs,
    con_has, con_channel, con_purpose, con_type, con_granted, con_revoked, con_confirmed,
    con_outside, con_evidence,
    dnc_num, dnc_action, dnc_scope, dnc_category, dnc_ts, dnc_source,
):  # fmt: skip
    """Simulate numbers ``first…`` until done or the event buffers are nearly full.

    Returns (next number to do, events written, DNC rows written).
    """
    n_numbers = gidx.shape[0]
    t_end = t0 + days * DAY
    cap = ev_ts.shape[0]
    n_camp = camp_cdf.shape[0]
    state = np.empty(1, dtype=np.uint64)
    max_c = MAX_TOUCHES * MAX_ATTEMPTS
    ct = np.empty(max_c, np.int64)
    ctouch = np.empty(max_c, np.int64)
    cattempt = np.empty(max_c, np.int64)
    ccamp = np.empty(max_c, np.int64)
    ukeep = np.empty(max_c, np.float64)
    touch_state = np.empty(MAX_TOUCHES, np.int64)
    look_state = np.empty(MAX_TOUCHES, np.int64)
    kt = np.empty(max_c, np.int64)
    kshort = np.empty(max_c, np.bool_)
    kref_t = np.empty(max_c, np.int64)
    # per-number event buffer (sorted by ts before output)
    b_ts = np.empty(MAX_EVENTS_PER_NUMBER, np.int64)
    b_kind = np.empty(MAX_EVENTS_PER_NUMBER, np.int64)
    b_channel = np.empty(MAX_EVENTS_PER_NUMBER, np.int64)
    b_purpose = np.empty(MAX_EVENTS_PER_NUMBER, np.int64)
    b_campaign = np.empty(MAX_EVENTS_PER_NUMBER, np.int64)
    b_dial = np.empty(MAX_EVENTS_PER_NUMBER, np.int64)
    b_outcome = np.empty(MAX_EVENTS_PER_NUMBER, np.int64)
    b_duration = np.empty(MAX_EVENTS_PER_NUMBER, np.float64)
    b_text = np.empty(MAX_EVENTS_PER_NUMBER, np.int64)
    b_source = np.empty(MAX_EVENTS_PER_NUMBER, np.int64)
    b_pc = np.empty(MAX_EVENTS_PER_NUMBER, np.float64)
    b_po = np.empty(MAX_EVENTS_PER_NUMBER, np.float64)
    b_pc_obs = np.empty(MAX_EVENTS_PER_NUMBER, np.float64)  # set on contact rows only
    b_po_obs = np.empty(MAX_EVENTS_PER_NUMBER, np.float64)
    # the observable ceiling: likelihood of the number's observed outcomes per grid node
    n_grid = grid_sc.shape[0]
    like_c = np.empty(n_grid, np.float64)
    like_o = np.empty(n_grid, np.float64)
    node_pc = np.empty(n_grid, np.float64)
    node_po = np.empty(n_grid, np.float64)
    mix_c = np.empty(n_grid, np.float64)
    mix_o = np.empty(n_grid, np.float64)
    n_ev = 0
    n_dnc = 0
    i = first
    while i < n_numbers:
        if n_ev + MAX_EVENTS_PER_NUMBER > cap or n_dnc + 2 * max_c + 4 > dnc_ts.shape[0]:
            break
        state[0] = np.uint64(seed_key) ^ (np.uint64(gidx[i]) * _MIX1)
        _next(state)
        zone = number_zone[i]
        # ---- latent traits
        z1 = _normal(state)
        z2 = _normal(state)
        sens_c = math.exp(SENSITIVITY_SIGMA * z1 - 0.5 * SENSITIVITY_SIGMA**2)
        zo = SENSITIVITY_CORRELATION * z1 + math.sqrt(1 - SENSITIVITY_CORRELATION**2) * z2
        sens_o = math.exp(OPT_OUT_SENSITIVITY_SIGMA * zo - 0.5 * OPT_OUT_SENSITIVITY_SIGMA**2)
        intensity = math.exp(INTENSITY_SIGMA * _normal(state) - 0.5 * INTENSITY_SIGMA**2)
        propensity = 1.0 / (1.0 + math.exp(-(-0.3 + 0.9 * _normal(state))))
        lang = number_lang_default[i]
        if _uniform(state) < number_spanish_share[i]:
            lang = LANG_ES
        # ---- consent (one grant or none)
        has = _uniform(state) < CONSENT_SHARE
        g_t = _FAR
        r_t = _FAR
        c_chan = 0
        c_type = -1
        c_purpose = P_MARKETING
        if has:
            u = _uniform(state)
            c_type = (
                CT_WRITTEN
                if u < 0.35
                else (CT_EXPRESS if u < 0.65 else (CT_SOFT if u < 0.85 else CT_IMPLIED))
            )
            u = _uniform(state)
            c_chan = 0 if u < 0.65 else (2 if u < 0.85 else 1)
            c_purpose = P_MARKETING if _uniform(state) < 0.9 else P_SERVICE
            if _uniform(state) < 0.85:
                g_t = t0 - int((1.0 + 719.0 * _uniform(state)) * DAY)
            else:
                g_t = t0 + int(_uniform(state) * days * DAY)
            if _uniform(state) < 0.05:
                r_t = max(g_t, t0) + 1 + int(_uniform(state) * days * DAY)
            con_confirmed[i] = -1
            if c_type <= CT_WRITTEN and _uniform(state) < 0.6:
                con_confirmed[i] = g_t + 60 + int(_uniform(state) * 2 * DAY)
            con_outside[i] = _uniform(state) < 0.05
            con_evidence[i] = _pick(state, 0, 5)
        con_has[i] = has
        con_channel[i] = c_chan
        con_type[i] = c_type
        con_purpose[i] = c_purpose
        con_granted[i] = g_t
        # ---- internal DNC before the simulation (some removed during it)
        pre_from = _FAR
        pre_until = _FAR
        if _uniform(state) < PRE_DNC_SHARE:
            pre_from = t0 - int((1.0 + 364.0 * _uniform(state)) * DAY)
            dnc_num[n_dnc] = i
            dnc_action[n_dnc] = 0
            dnc_scope[n_dnc] = 0
            dnc_category[n_dnc] = 0
            dnc_ts[n_dnc] = pre_from
            dnc_source[n_dnc] = 0
            n_dnc += 1
            if _uniform(state) < 0.2:
                pre_until = t0 + int(_uniform(state) * days * DAY)
                dnc_num[n_dnc] = i
                dnc_action[n_dnc] = 1
                dnc_scope[n_dnc] = 0
                dnc_category[n_dnc] = 0
                dnc_ts[n_dnc] = pre_until
                dnc_source[n_dnc] = 0
                n_dnc += 1
        # ---- candidate contacts: campaign touches and their retries
        n_touch = min(_poisson(state, intensity * TOUCHES_PER_180_DAYS * days / 180.0), MAX_TOUCHES)
        nc = 0
        for tch in range(n_touch):
            u = _uniform(state)
            c = 0
            while c < n_camp - 1 and camp_cdf[c] < u:
                c += 1
            span = camp_end_day[c] - camp_start_day[c]
            day = camp_start_day[c] + min(int(_uniform(state) * span), span - 1)
            if _uniform(state) < camp_night[c]:
                hour = NIGHT_HOURS[_pick(state, 0, 11)]
            else:
                hour = 9 + _pick(state, 0, 11)
            naive = t0 + day * DAY + hour * 3600 + int(_uniform(state) * 3600)
            h = (naive - offsets_t0) // 3600
            t = naive - offsets[zone, h]
            touch_state[tch] = _NEW
            for a in range(camp_attempts[c]):
                if a > 0:
                    t += RETRY_MIN_S + int(-RETRY_MEAN_S * math.log(1.0 - _uniform(state)))
                if t < t0 or t >= t_end:
                    break
                ct[nc] = t
                ctouch[nc] = tch
                cattempt[nc] = a
                ccamp[nc] = c
                nc += 1
        order = np.argsort(ct[:nc], kind="mergesort")
        ct[:nc] = ct[:nc][order]
        ctouch[:nc] = ctouch[:nc][order]
        cattempt[:nc] = cattempt[:nc][order]
        ccamp[:nc] = ccamp[:nc][order]
        for j in range(nc):
            ukeep[j] = _uniform(state)
        # ---- sequential history
        like_c[:] = 1.0
        like_o[:] = 1.0
        nb = 0
        nk = 0
        streak = 0
        last_t = -_FAR
        optout_from = _FAR
        dnc_all_from = _FAR
        dnc_call_from = _FAR
        for j in range(nc):
            ok = _eligible(j, ct, ctouch, cattempt, ccamp, camp_purpose, camp_channel, ukeep,
                           touch_state, last_t, optout_from, dnc_all_from, dnc_call_from,
                           pre_from, pre_until)  # fmt: skip
            if not ok:
                touch_state[ctouch[j]] = _CLOSED
                continue
            t = ct[j]
            c = ccamp[j]
            ch = camp_channel[c]
            pur = camp_purpose[c]
            dial = camp_dial[c]
            # drivers from the kept history strictly before t
            c1 = 0
            c7 = 0
            c30 = 0
            short30 = 0
            ref90 = 0
            for k in range(nk - 1, -1, -1):
                age = t - kt[k]
                if age > 90 * DAY:
                    break
                if age <= DAY:
                    c1 += 1
                if age <= WEEK:
                    c7 += 1
                if age <= 30 * DAY:
                    c30 += 1
                    if kshort[k]:
                        short30 += 1
                if kref_t[k] >= 0 and t - kref_t[k] <= 90 * DAY:
                    ref90 += 1
            local = t + offsets[zone, (t - offsets_t0) // 3600]
            local_hour = (local % DAY) // 3600
            night = local_hour >= 21 or local_hour < 8
            consent_ok = (
                has and g_t < t and t < r_t and c_purpose == P_MARKETING
                and (c_chan == 0 or (c_chan == 1 and ch == CH_CALL) or (c_chan == 2 and ch == CH_SMS))
            )  # fmt: skip
            # x: the driver vector in _WEIGHT_ORDER
            x1 = min(c1, CAP_1D)
            x7 = min(c7, CAP_7D)
            x30 = min(c30, CAP_30D)
            xs = min(streak, CAP_STREAK)
            xsh = min(short30, CAP_SHORT)
            xr = min(ref90, CAP_REFUSALS)
            no_consent = 0.0
            implied = 0.0
            soft = 0.0
            written = 0.0
            if pur == P_MARKETING:
                if not consent_ok:
                    no_consent = 1.0
                elif c_type == CT_IMPLIED:
                    implied = 1.0
                elif c_type == CT_SOFT:
                    soft = 1.0
                elif c_type == CT_WRITTEN:
                    written = 1.0
            service = 1.0 if pur == P_SERVICE else 0.0
            sms = 1.0 if ch == CH_SMS else 0.0
            predictive = 1.0 if dial == D_PREDICTIVE else 0.0
            prerec = 1.0 if dial == D_PRERECORDED else 0.0
            nightf = 1.0 if night else 0.0
            lc = (wc[0] + wc[1] * x1 + wc[2] * x7 + wc[3] * x30 + wc[4] * nightf + wc[5] * xs
                  + wc[6] * xsh + wc[7] * xr + wc[8] * no_consent + wc[9] * implied
                  + wc[10] * soft + wc[11] * written + wc[12] * service + wc[13] * sms
                  + wc[14] * predictive + wc[15] * prerec)  # fmt: skip
            lo = (wo[0] + wo[1] * x1 + wo[2] * x7 + wo[3] * x30 + wo[4] * nightf + wo[5] * xs
                  + wo[6] * xsh + wo[7] * xr + wo[8] * no_consent + wo[9] * implied
                  + wo[10] * soft + wo[11] * written + wo[12] * service + wo[13] * sms
                  + wo[14] * predictive + wo[15] * prerec)  # fmt: skip
            pc = min(1.0 - math.exp(-sens_c * math.exp(lc)), P_CAP)
            po = min(1.0 - math.exp(-sens_o * math.exp(lo)), P_CAP)
            pc_obs, po_obs = _ceiling_predict(math.exp(lc), math.exp(lo), grid_sc, grid_so,
                                              grid_prior, like_c, like_o, node_pc, node_po,
                                              mix_c, mix_o)  # fmt: skip
            complained = False
            opted_out = False
            refused = False
            # outcome: the answer model (propensity × hour of day)
            duration = math.nan
            short = False
            if ch == CH_SMS:
                outcome = O_FAILED if _uniform(state) < 0.04 else O_DELIVERED
            else:
                duration = 0.0
                if _uniform(state) < propensity * HOUR_ANSWER[local_hour]:
                    if dial == D_PREDICTIVE and _uniform(state) < 0.04:
                        outcome = O_ABANDONED
                    else:
                        outcome = O_ANSWERED
                        p_short = (
                            0.06 + 0.03 * min(c7, 10) + (0.25 if dial == D_PRERECORDED else 0.0)
                        )
                        if _uniform(state) < p_short:
                            duration = float(int(10 + 89 * _uniform(state))) / 10.0
                            short = True
                        else:
                            duration = min(
                                max(math.exp(3.9 + 0.8 * _normal(state)), 10.0), MAX_CALL_S
                            )
                            duration = float(int(duration))
                else:
                    u = _uniform(state)
                    if dial != D_MANUAL and u < 0.3:
                        outcome = O_AMD
                    elif u < 0.55:
                        outcome = O_NO_ANSWER
                    elif u < 0.83:
                        outcome = O_VOICEMAIL
                        duration = float(15 + int(30 * _uniform(state)))
                    elif u < 0.95:
                        outcome = O_BUSY
                    else:
                        outcome = O_FAILED
                if outcome == O_ANSWERED:
                    streak = 0
                else:
                    streak += 1
            # touch bookkeeping: retry only unanswered calls
            a = cattempt[j]
            if ch == CH_CALL and outcome != O_ANSWERED and a + 1 < camp_attempts[c]:
                touch_state[ctouch[j]] = _OPEN
            else:
                touch_state[ctouch[j]] = _CLOSED
            # emit the contact
            b_ts[nb] = t
            b_kind[nb] = K_CONTACT
            b_channel[nb] = ch
            b_purpose[nb] = pur
            b_campaign[nb] = c
            b_dial[nb] = dial
            b_outcome[nb] = outcome
            b_duration[nb] = duration
            b_text[nb] = -1
            b_source[nb] = -1
            b_pc[nb] = pc
            b_po[nb] = po
            b_pc_obs[nb] = pc_obs
            b_po_obs[nb] = po_obs
            nb += 1
            kt[nk] = t
            kshort[nk] = short
            kref_t[nk] = -1
            # refusal during an answered marketing call
            refusal_possible = outcome == O_ANSWERED and pur == P_MARKETING and not short
            if refusal_possible:
                p_ref = min(REFUSAL_BASE * sens_o * (1.0 + REFUSAL_PER_CONTACT_7D * c7), P_CAP)
                if _uniform(state) < p_ref:
                    refused = True
                    rt = t + max(1, int(duration))
                    kref_t[nk] = rt
                    nb = _emit_simple(nb, rt, K_REFUSAL, -1, b_ts, b_kind, b_channel, b_purpose,
                                      b_campaign, b_dial, b_outcome, b_duration, b_text, b_source,
                                      b_pc, b_po)  # fmt: skip
                    if _uniform(state) < REFUSAL_ADDS_DNC:
                        dnc_call_from = min(dnc_call_from, rt)
                        n_dnc = _emit_dnc(n_dnc, i, 0, 1, 1, rt, 1, dnc_num, dnc_action,
                                          dnc_scope, dnc_category, dnc_ts, dnc_source)  # fmt: skip
            nk += 1
            last_t = t
            # the label window: (t, min(next contact, t + 7 days))
            for m in range(n_touch):
                look_state[m] = touch_state[m]
            next_t = _FAR
            for jj in range(j + 1, nc):
                if _eligible(jj, ct, ctouch, cattempt, ccamp, camp_purpose, camp_channel, ukeep,
                             look_state, last_t, optout_from, dnc_all_from, dnc_call_from,
                             pre_from, pre_until):  # fmt: skip
                    next_t = ct[jj]
                    break
                look_state[ctouch[jj]] = _CLOSED
            window = min(next_t, t + WEEK) - t
            if _uniform(state) < pc:
                complained = True
                ts_c = t + _delay_in_window(state, window)
                u = _uniform(state)
                if ch == CH_SMS:
                    src = 0 if u < 0.55 else (1 if u < 0.9 else 2)
                else:
                    src = 0 if u < 0.8 else (1 if u < 0.9 else 2)
                nb = _emit_simple(nb, ts_c, K_COMPLAINT, src, b_ts, b_kind, b_channel, b_purpose,
                                  b_campaign, b_dial, b_outcome, b_duration, b_text, b_source,
                                  b_pc, b_po)  # fmt: skip
                if _uniform(state) < COMPLAINT_ADDS_DNC:
                    dnc_all_from = min(dnc_all_from, ts_c)
                    n_dnc = _emit_dnc(n_dnc, i, 0, 0, 0, ts_c, 2, dnc_num, dnc_action, dnc_scope,
                                      dnc_category, dnc_ts, dnc_source)  # fmt: skip
            if _uniform(state) < po:
                opted_out = True
                ts_o = t + _delay_in_window(state, window)
                if ch == CH_SMS and _uniform(state) < OPT_OUT_AS_REPLY_SMS:
                    txt = _pick(state, text_lo[lang, 0], text_n[lang, 0])
                    nb = _emit_simple(nb, ts_o, K_REPLY, -1, b_ts, b_kind, b_channel, b_purpose,
                                      b_campaign, b_dial, b_outcome, b_duration, b_text, b_source,
                                      b_pc, b_po)  # fmt: skip
                    b_text[nb - 1] = txt
                else:
                    nb = _emit_simple(nb, ts_o, K_OPT_OUT, -1, b_ts, b_kind, b_channel, b_purpose,
                                      b_campaign, b_dial, b_outcome, b_duration, b_text, b_source,
                                      b_pc, b_po)  # fmt: skip
                    if ch == CH_CALL and _uniform(state) < OPT_OUT_CALL_ADDS_DNC:
                        n_dnc = _emit_dnc(n_dnc, i, 0, 0, 0, ts_o, 3, dnc_num, dnc_action,
                                          dnc_scope, dnc_category, dnc_ts, dnc_source)  # fmt: skip
                optout_from = min(optout_from, ts_o)
                if has and g_t < ts_o and ts_o < r_t:
                    r_t = ts_o
            elif ch == CH_SMS and outcome == O_DELIVERED and _uniform(state) < ORDINARY_REPLY_SMS:
                u = _uniform(state)
                kind_col = 3 if u < 0.75 else (1 if u < 0.9 else 2)  # ordinary / help / start
                if kind_col == 2 and optout_from < _FAR:
                    kind_col = 3
                txt = _pick(state, text_lo[lang, kind_col], text_n[lang, kind_col])
                ts_r = t + 1 + int(_uniform(state) * min(window - 1, 6 * 3600))
                nb = _emit_simple(nb, ts_r, K_REPLY, -1, b_ts, b_kind, b_channel, b_purpose,
                                  b_campaign, b_dial, b_outcome, b_duration, b_text, b_source,
                                  b_pc, b_po)  # fmt: skip
                b_text[nb - 1] = txt
            _ceiling_update(like_c, like_o, node_pc, node_po, complained, opted_out,
                            refusal_possible, refused, c7, grid_so)  # fmt: skip
        con_revoked[i] = r_t if r_t < _FAR else -1
        # ---- business events, independent of contacts
        for kind, mean in ((K_PURCHASE, 0.25), (K_INQUIRY, 0.15), (K_CONTRACT_START, 0.06)):
            for _ in range(min(_poisson(state, mean * days / 180.0), 5)):
                te = t0 + int(_uniform(state) * days * DAY)
                nb = _emit_simple(nb, te, kind, -1, b_ts, b_kind, b_channel, b_purpose,
                                  b_campaign, b_dial, b_outcome, b_duration, b_text, b_source,
                                  b_pc, b_po)  # fmt: skip
                if kind == K_CONTRACT_START and _uniform(state) < 0.4:
                    te2 = te + int((30 + 120 * _uniform(state)) * DAY)
                    if te2 < t_end:
                        nb = _emit_simple(nb, te2, K_CONTRACT_END, -1, b_ts, b_kind, b_channel,
                                          b_purpose, b_campaign, b_dial, b_outcome, b_duration,
                                          b_text, b_source, b_pc, b_po)  # fmt: skip
        if has and g_t >= t0:
            nb = _emit_simple(nb, g_t, K_OPT_IN, -1, b_ts, b_kind, b_channel, b_purpose,
                              b_campaign, b_dial, b_outcome, b_duration, b_text, b_source,
                              b_pc, b_po)  # fmt: skip
            b_channel[nb - 1] = -1 if c_chan == 0 else (CH_CALL if c_chan == 1 else CH_SMS)
        # ---- output in time order
        order = np.argsort(b_ts[:nb], kind="mergesort")
        for q in range(nb):
            s = order[q]
            o = n_ev + q
            ev_num[o] = i
            ev_seq[o] = q
            ev_ts[o] = b_ts[s]
            ev_kind[o] = b_kind[s]
            ev_channel[o] = b_channel[s]
            ev_purpose[o] = b_purpose[s]
            ev_campaign[o] = b_campaign[s]
            ev_dial[o] = b_dial[s]
            ev_outcome[o] = b_outcome[s]
            ev_duration[o] = b_duration[s]
            ev_text[o] = b_text[s]
            ev_source[o] = b_source[s]
            ev_pc[o] = b_pc[s]
            ev_po[o] = b_po[s]
            contact = b_kind[s] == K_CONTACT
            ev_pc_obs[o] = b_pc_obs[s] if contact else math.nan
            ev_po_obs[o] = b_po_obs[s] if contact else math.nan
        n_ev += nb
        i += 1
    return i, n_ev, n_dnc


@njit(cache=True, nogil=True, inline="always")
def _emit_simple(nb, ts, kind, source, b_ts, b_kind, b_channel, b_purpose, b_campaign, b_dial,
                 b_outcome, b_duration, b_text, b_source, b_pc, b_po):  # fmt: skip
    b_ts[nb] = ts
    b_kind[nb] = kind
    b_channel[nb] = -1
    b_purpose[nb] = -1
    b_campaign[nb] = -1
    b_dial[nb] = -1
    b_outcome[nb] = -1
    b_duration[nb] = math.nan
    b_text[nb] = -1
    b_source[nb] = source
    b_pc[nb] = math.nan
    b_po[nb] = math.nan
    return nb + 1


@njit(cache=True, nogil=True, inline="always")
def _emit_dnc(n, i, action, scope, category, ts, source, dnc_num, dnc_action, dnc_scope,
              dnc_category, dnc_ts, dnc_source):  # fmt: skip
    dnc_num[n] = i
    dnc_action[n] = action
    dnc_scope[n] = scope
    dnc_category[n] = category
    dnc_ts[n] = ts
    dnc_source[n] = source
    return n + 1
