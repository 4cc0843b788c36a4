"""Medication of one postal area: treatment courses split into prescription rows.

A course is a continuous treatment of one substance ([start, end], end = the last covered day). It
is written as consecutive prescriptions of 3-6 purchases of ~90 days with short renewal gaps, and
the last prescription of a course covers exactly to the course end, so "treatment ended on day X"
is what the data show. Short courses follow acute contacts (antibiotics, NSAIDs ...). Hypnotics and
oral glucocorticoids are renewed as short prescriptions every few months (:func:`_long_term`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ennakoiva.adapters.synth.frame import NO_DATE
from ennakoiva.adapters.synth.health_codes import Vocab, Windows, draw_mix, repeat_index, sort_order
from ennakoiva.adapters.synth.health_conditions import AF_STATES, FAR, Patients
from ennakoiva.adapters.synth.health_events import ACUTE, ORDINARY, Visits
from ennakoiva.adapters.synth.sampling import interp_by_age

__all__ = ["Prescriptions", "prescriptions"]


@dataclass
class Prescriptions:
    pidx: np.ndarray
    atc: np.ndarray
    start: np.ndarray
    end: np.ndarray


def _recorded(p: Patients, cond: str) -> np.ndarray:
    return p.has[cond] & (p.dx_day[cond] != NO_DATE)


def prescriptions(p: Patients, v: Visits, hp: dict[str, Any], win: Windows, icd: Vocab, atc: Vocab,
                  rng: np.random.Generator) -> Prescriptions:
    tr = hp["treatment"]
    n = p.n
    courses: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []

    def add(mask: np.ndarray, codes: np.ndarray, start: np.ndarray, end: np.ndarray) -> None:
        who = np.flatnonzero(mask & (start != NO_DATE) & (start <= end) & (start >= p.lo) & (end <= p.hi))
        courses.append((who, codes[who], start[who], end[who]))

    def begin(cond: str) -> np.ndarray:
        dx = p.dx_day[cond]
        return np.where(dx < p.lo, p.lo + rng.integers(0, 45, n), dx + rng.integers(0, 30, n))

    # antihypertensives: 1-3 substances over the same treatment period
    start, end = p.htn_tx
    on = start != NO_DATE
    n_drugs = 1 + np.searchsorted(np.cumsum(tr["htn_drug_count"]), rng.random(n) * sum(tr["htn_drug_count"]),
                                  side="right")
    new = p.dx_day["htn"] >= p.lo
    for j, key in enumerate(("htn_first", "htn_second", "htn_third")):
        later = np.where(new & (j > 0), rng.integers(0, 180, n), 0)
        add(on & (n_drugs > j), draw_mix(rng, n, tr[key], atc), np.minimum(start + later, end), end)
    # statins
    start, end = p.statin_tx
    add(start != NO_DATE, draw_mix(rng, n, tr["statin"], atc), start, end)
    # type 2 diabetes
    t2d = _recorded(p, "t2d")
    start = begin("t2d")
    add(t2d & (rng.random(n) < tr["t2d_metformin"]), np.full(n, atc.index["A10BA02"], np.int32), start, p.hi)
    for code, share in tr["t2d_addon"].items():
        later = start + np.floor(rng.random(n) * np.maximum(p.hi - start, 0)).astype(np.int64)
        add(t2d & (rng.random(n) < share), np.full(n, atc.index[code], np.int32), later, p.hi)
    # anticoagulants, and aspirin for some of those without one
    start, end = p.oac_tx
    add(start != NO_DATE, draw_mix(rng, n, tr["anticoagulant"], atc), start, end)
    vasc = _recorded(p, "chd") | _recorded(p, "stroke")
    vdx = np.minimum(np.where(_recorded(p, "chd"), p.dx_day["chd"], FAR),
                     np.where(_recorded(p, "stroke"), p.dx_day["stroke"], FAR))
    af_none = p.af_state == AF_STATES.index("none")
    asa = ((af_none & (rng.random(n) < tr["aspirin_without_anticoagulant"]))
           | (vasc & (start == NO_DATE) & (rng.random(n) < tr["antiplatelet_chd"])))
    asa_from = np.where(vasc, vdx, p.dx_day["af"])
    asa_start = np.where(asa_from < p.lo, p.lo + rng.integers(0, 45, n), asa_from + rng.integers(0, 30, n))
    add(asa, np.full(n, atc.index["B01AC06"], np.int32), asa_start, p.hi)
    # antidepressants and alcohol-use-disorder drugs: courses of months, not for life
    for cond, key, share_key, days in (("depression", "antidepressant", "antidepressant_share",
                                        tr["antidepressant_course_days"]),
                                       ("alcohol", "alcohol_drug", "alcohol_drug_share", [90, 365])):
        dx = p.dx_day[cond]
        start = np.where(dx < p.lo, p.lo + rng.integers(0, 365, n), dx + rng.integers(0, 60, n))
        end = np.minimum(start + rng.integers(days[0], days[1] + 1, n), p.hi)
        add(_recorded(p, cond) & (rng.random(n) < tr[share_key]), draw_mix(rng, n, tr[key], atc), start, end)
    # asthma and hypothyroidism
    asthma = _recorded(p, "asthma")
    add(asthma & (rng.random(n) < tr["asthma_controller_share"]), draw_mix(rng, n, tr["asthma_controller"], atc),
        begin("asthma"), p.hi)
    add(asthma & (rng.random(n) < tr["asthma_reliever_share"]), np.full(n, atc.index["R03AC02"], np.int32),
        begin("asthma"), p.hi)
    add(_recorded(p, "hypothyroid") & (rng.random(n) < tr["levothyroxine_share"]),
        np.full(n, atc.index["H03AA01"], np.int32), begin("hypothyroid"), p.hi)

    cp = np.concatenate([c[0] for c in courses]).astype(np.int64)
    ca = np.concatenate([c[1] for c in courses]).astype(np.int32)
    cs = np.concatenate([c[2] for c in courses]).astype(np.int64)
    ce = np.concatenate([c[3] for c in courses]).astype(np.int64)
    pidx, atc_i, start, end = _episodes(cp, ca, cs, ce, tr, rng)

    # short courses after acute contacts
    rule_atc = np.full(len(icd.codes), -1, np.int32)
    rule_p = np.zeros(len(icd.codes))
    rule_days = np.zeros(len(icd.codes), np.int64)
    for code, (drug, prob, days) in tr["acute"].items():
        i = icd.index[code]
        rule_atc[i], rule_p[i], rule_days[i] = atc.index[drug], prob, days
    plain = ((v.kind == ORDINARY) | (v.kind == ACUTE)) & (v.topic < 0)
    rows = np.flatnonzero(plain & (rng.random(v.n) < rule_p[v.code]))
    a_p = v.pidx[rows]
    a_s = v.day[rows]
    a_e = np.minimum(a_s + rule_days[v.code[rows]] - 1, p.hi[a_p])

    h_p, h_a, h_s, h_e = _long_term(p, tr, atc, rng)
    pidx = np.concatenate([pidx, a_p, h_p])
    atc_i = np.concatenate([atc_i, rule_atc[v.code[rows]], h_a])
    start = np.concatenate([start, a_s, h_s])
    end = np.concatenate([end, a_e, h_e])
    # keep end dates off the 12-month look-back boundary for residents on the extract date
    near = p.present[pidx] & (end >= win.w12 - 3) & (end <= win.w12 + 3)
    end = np.where(near, win.w12 + 4, end)
    order = sort_order(pidx, start)
    return Prescriptions(pidx=pidx[order], atc=atc_i[order], start=start[order], end=end[order])


def _renewals(who: np.ndarray, first: np.ndarray, last: np.ndarray, codes: np.ndarray, hi: np.ndarray,
              supply_days: int, interval: tuple[int, int], rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Short prescriptions renewed every ``interval`` days from ``first`` to ``last`` (one substance per user).

    Unlike a chronic course (one prescription of several 90-day purchases), each renewal is its own
    prescription of ``supply_days``, as hypnotics and oral glucocorticoids are prescribed.
    """
    lo_i, hi_i = interval
    count = (last - first) // ((lo_i + hi_i) // 2) + 1
    owner, rank = repeat_index(count)
    gaps = rng.integers(lo_i, hi_i + 1, len(owner))
    gaps[rank == 0] = 0
    cum = np.cumsum(gaps)
    start = first[owner] + cum - cum[(np.cumsum(count) - count)[owner]]   # within-user running sum of gaps
    end = np.minimum(start + supply_days - 1, hi[owner])
    keep = start <= last[owner]
    return who[owner][keep], codes[owner][keep], start[keep], end[keep]


def _long_term(p: Patients, tr: dict[str, Any], atc: Vocab, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Repeat users of hypnotics and anxiolytics (older people) and of oral glucocorticoids, with the
    bone protection about half of the latter get."""
    span = np.maximum(p.hi - p.lo, 0)
    parts = []
    # hypnotics: from a day in the first 70 % of the data, a share stopping before its end
    user = (p.hi >= p.lo) & (p.age_hi >= 40) & (rng.random(p.n) < interp_by_age(p.age_hi, tr["hypnotic_by_age"]))
    who = np.flatnonzero(user)
    first = p.lo[who] + np.floor(rng.random(len(who)) * 0.7 * span[who]).astype(np.int64)
    last = np.where(rng.random(len(who)) < tr["hypnotic_stop_share"],
                    first + np.floor(rng.random(len(who)) * (p.hi[who] - first)).astype(np.int64), p.hi[who])
    parts.append(_renewals(who, first, last, draw_mix(rng, len(who), tr["hypnotic"], atc), p.hi[who],
                           int(tr["hypnotic_supply_days"]), tuple(tr["hypnotic_interval_days"]), rng))
    # oral glucocorticoids: a course of months to years
    user = (p.hi >= p.lo) & (p.age_hi >= 18) & (rng.random(p.n) < interp_by_age(p.age_hi, tr["steroid_by_age"]))
    who = np.flatnonzero(user)
    first = p.lo[who] + np.floor(rng.random(len(who)) * span[who]).astype(np.int64)
    lo_d, hi_d = tr["steroid_course_days"]
    last = np.minimum(first + rng.integers(lo_d, hi_d + 1, len(who)), p.hi[who])
    parts.append(_renewals(who, first, last, draw_mix(rng, len(who), tr["steroid"], atc), p.hi[who],
                           int(tr["steroid_supply_days"]), tuple(tr["steroid_interval_days"]), rng))
    protect = rng.random(len(who)) < tr["bone_protection_share"]
    b_who = who[protect]
    b_first = np.minimum(first[protect] + rng.integers(14, 90, len(b_who)), p.hi[b_who])
    parts.append(_renewals(b_who, b_first, p.hi[b_who], draw_mix(rng, len(b_who), tr["bone_protection"], atc),
                           p.hi[b_who], int(tr["bone_protection_supply_days"]), (80, 100), rng))
    return tuple(np.concatenate([part[i] for part in parts]) for i in range(4))


def _episodes(cp: np.ndarray, ca: np.ndarray, cs: np.ndarray, ce: np.ndarray, tr: dict[str, Any],
              rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Split courses into prescriptions of several ~90-day purchases; the last ends on the course end."""
    days = int(tr["purchase_days"])
    lo_k, hi_k = tr["purchases_per_prescription"]
    lo_g, hi_g = tr["renewal_gap_days"]
    m = (ce - cs) // (lo_k * days) + 1
    owner, _ = repeat_index(m)
    length = days * rng.integers(lo_k, hi_k + 1, len(owner))
    step = length + rng.integers(lo_g, hi_g + 1, len(owner))
    cum = np.cumsum(step)
    first = np.cumsum(m) - m
    offset = cum - step - (cum[first] - step[first])[owner]   # exclusive within-course cumsum
    start = cs[owner] + offset
    keep = start <= ce[owner]
    owner, start, length = owner[keep], start[keep], length[keep]
    end = np.minimum(start + length - 1, ce[owner])
    last = np.ones(len(owner), dtype=bool)
    last[:-1] = owner[1:] != owner[:-1]
    end[last] = ce[owner[last]]
    return cp[owner], ca[owner], start, end
