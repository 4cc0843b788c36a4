"""Health-care events of one postal area as row arrays: visits, diagnoses, measurements.

Visits come from five sources, in this sort priority on a day: planted ("forced") contacts that a
care gap needs, scheduled chronic-care controls, the contact where a new diagnosis is recorded,
ordinary primary-care contacts and emergency / inpatient contacts. Diagnoses and measurements hang
off the visits (plus home BP series and diagnoses carried over from before the window).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ennakoiva.adapters.synth.frame import NO_DATE
from ennakoiva.adapters.synth.health_codes import (
    BMI,
    CARDIOMETABOLIC,
    CONDITIONS,
    DBP,
    EGFR,
    HBA1C_IFCC,
    HBA1C_PCT,
    LDL,
    LUT_SIZE,
    SBP,
    Vocab,
    Windows,
    mix_lut,
    repeat_index,
    sort_order,
    uniform_days,
)
from ennakoiva.adapters.synth.health_conditions import (
    BP_STATES,
    CKD_STATES,
    DM_STATES,
    FAR,
    T2D_STATES,
    Patients,
)
from ennakoiva.adapters.synth.sampling import interp_by_age

__all__ = ["Diagnoses", "Measurements", "Visits", "band_shift", "diagnoses", "measurements", "visits"]

_YEAR = 365.25
NURSE, DOCTOR, PHONE, EMERGENCY, INPATIENT = range(5)
FORCED, CONTROL, DX, ORDINARY, ACUTE = range(5)            # visit kinds, in same-day sort priority
# planted contacts: what they measure
F_LAPSE_BP, F_HBA1C, F_BP_HIGH, F_BP_BELOW, F_BP_BORDER, F_EGFR_LOW, F_EGFR_CLOSE, F_DM_HIGH, F_DM_NORMAL = range(1, 10)
_BP_RULES = (F_LAPSE_BP, F_BP_HIGH, F_BP_BELOW, F_BP_BORDER)


@dataclass
class Visits:
    pidx: np.ndarray
    day: np.ndarray
    vtype: np.ndarray        # index into VISIT_TYPES
    kind: np.ndarray         # FORCED .. ACUTE
    tag: np.ndarray          # condition index of a DX visit, rule of a FORCED one, else -1
    age: np.ndarray          # patient's age in years on the day
    topic: np.ndarray        # chronic condition index an ordinary / acute contact is about, else -1
    code: np.ndarray         # ICD index of the main diagnosis (control visits: first condition)

    @property
    def n(self) -> int:
        return len(self.pidx)


@dataclass
class Diagnoses:
    pidx: np.ndarray
    day: np.ndarray
    visit: np.ndarray        # row in Visits, -1 for a diagnosis carried over from before the window
    code: np.ndarray
    primary: np.ndarray


@dataclass
class Measurements:
    pidx: np.ndarray
    day: np.ndarray
    visit: np.ndarray        # row in Visits, -1 for home readings
    loinc: np.ndarray
    value: np.ndarray
    acute: np.ndarray        # taken at an emergency or inpatient contact


def band_shift(days: np.ndarray, who: np.ndarray, win: Windows) -> np.ndarray:
    """Move days within 3 days of the 12- and 24-month look-back boundaries just inside them.

    Only for ``who`` (residents on the extract date), so a criterion gives the same answer whether
    an evaluator counts its window boundary as inclusive or exclusive, or a year as 365 days.
    """
    out = days
    for w in (win.w12, win.w24):
        out = np.where(who & (out >= w - 3) & (out <= w + 3), w + 4, out)
    return out


def _recorded(p: Patients, cond: str) -> np.ndarray:
    return p.has[cond] & (p.dx_day[cond] != NO_DATE)


def visits(p: Patients, hp: dict[str, Any], win: Windows, icd: Vocab, rng: np.random.Generator) -> Visits:
    """All contacts of the area, sorted by person, day and kind."""
    vp = hp["visits"]
    n = p.n
    span = np.maximum(p.hi - p.lo + 1, 0)
    years = span / _YEAR
    age_mid = ((p.lo + p.hi) / 2 - p.birth) / _YEAR
    n_cond = sum(_recorded(p, c).astype(np.int64) for c in CONDITIONS)
    frailty = rng.gamma(vp["frailty_shape"], 1 / vp["frailty_shape"], n)
    dep, alc = _recorded(p, "depression"), _recorded(p, "alcohol")
    rate = (interp_by_age(age_mid, vp["ordinary_rate_by_age"]) * frailty * (1 + vp["per_condition_multiplier"] * n_cond)
            * np.where(dep, vp["depression_multiplier"], 1.0) * np.where(alc, vp["alcohol_multiplier"], 1.0))
    acute_mult = (np.sqrt(frailty) * (1 + vp["emergency_per_condition"] * n_cond)
                  * np.where(alc, vp["emergency_alcohol_multiplier"], 1.0)
                  * np.where(dep, vp["emergency_depression_multiplier"], 1.0))
    parts: list[tuple[np.ndarray, ...]] = []

    # ordinary nurse / doctor / phone contacts
    k = rng.poisson(rate * years)
    pidx, _ = repeat_index(k)
    mix = vp["type_mix"]
    vt = mix_lut([mix["nurse"], mix["doctor"], mix["phone"]]).astype(np.int8)[rng.integers(0, LUT_SIZE, len(pidx))]
    parts.append((pidx, uniform_days(rng, p.lo[pidx], p.hi[pidx]), vt, ORDINARY, -1))
    # emergency and inpatient contacts
    for vtype, key in ((EMERGENCY, "emergency_rate_by_age"), (INPATIENT, "inpatient_rate_by_age")):
        k = rng.poisson(interp_by_age(age_mid, vp[key]) * acute_mult * years)
        pidx, _ = repeat_index(k)
        parts.append((pidx, uniform_days(rng, p.lo[pidx], p.hi[pidx]), vtype, ACUTE, -1))
    parts.append(_control_visits(p, hp, rng))
    parts.extend(_dx_visits(p, rng))
    parts.extend(_forced_visits(p, win, rng))

    pidx = np.concatenate([x[0] for x in parts]).astype(np.int64)
    day = np.concatenate([x[1] for x in parts]).astype(np.int64)

    def col(i: int, dtype: type) -> np.ndarray:
        return np.concatenate([np.broadcast_to(np.asarray(x[i], dtype=dtype), len(x[0])) for x in parts])

    vtype, kind, tag = col(2, np.int8), col(3, np.int8), col(4, np.int16)
    day = band_shift(day, p.present[pidx], win)
    order = sort_order(pidx, day, kind)
    pidx, day, vtype, kind, tag = pidx[order], day[order], vtype[order], kind[order], tag[order]
    age = (day - p.birth[pidx]) / _YEAR
    v = Visits(pidx=pidx, day=day, vtype=vtype, kind=kind, tag=tag, age=age,
               topic=np.full(len(pidx), -1, np.int16), code=np.zeros(len(pidx), np.int32))
    _main_diagnosis(v, p, hp, icd, rng)
    return v


def _control_visits(p: Patients, hp: dict[str, Any], rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    cc = hp["chronic_care"]
    n = p.n
    first_dx = np.full(n, FAR, dtype=np.int64)
    for cond in CARDIOMETABOLIC:
        first_dx = np.minimum(first_dx, np.where(_recorded(p, cond), p.dx_day[cond], FAR))
    has_cm = first_dx < FAR
    start = np.where(first_dx < p.lo, p.lo, first_dx + 14)
    lo_t, hi_t = cc["interval_t2d"]
    lo_o, hi_o = cc["interval_other"]
    interval = np.where(_recorded(p, "t2d"), rng.integers(lo_t, hi_t + 1, n), rng.integers(lo_o, hi_o + 1, n))
    stop = np.where(p.lapse_day != NO_DATE, p.lapse_day - 20, p.hi)
    first = start + np.floor(rng.random(n) * interval).astype(np.int64)
    count = np.where(has_cm & (first <= stop), (stop - first) // interval + 1, 0)
    pidx, j = repeat_index(count)
    day = first[pidx] + j * interval[pidx] + rng.integers(-10, 11, len(pidx))
    day = np.clip(day, start[pidx], stop[pidx])
    vt = np.where(rng.random(len(pidx)) < cc["nurse_share"], NURSE, DOCTOR).astype(np.int8)
    return pidx, day, vt, CONTROL, -1


def _dx_visits(p: Patients, rng: np.random.Generator) -> list[tuple[np.ndarray, ...]]:
    out = []
    for ci, cond in enumerate(CONDITIONS):
        dx = p.dx_day[cond]
        pidx = np.flatnonzero(p.has[cond] & (dx != NO_DATE) & (dx >= p.lo) & (dx <= p.hi))
        if cond == "stroke":
            vt = np.full(len(pidx), INPATIENT, np.int8)
        elif cond == "chd":
            vt = np.where(rng.random(len(pidx)) < 0.4, EMERGENCY, DOCTOR).astype(np.int8)
        else:
            vt = np.full(len(pidx), DOCTOR, np.int8)
        out.append((pidx, dx[pidx], vt, DX, ci))
    return out


def _forced_visits(p: Patients, win: Windows, rng: np.random.Generator) -> list[tuple[np.ndarray, ...]]:
    out = []
    who = np.flatnonzero(p.lapse_day != NO_DATE)
    out.append((who, p.lapse_day[who], NURSE, FORCED, F_LAPSE_BP))
    who = np.flatnonzero(p.hba1c_stop != NO_DATE)
    out.append((who, p.hba1c_stop[who], NURSE, FORCED, F_HBA1C))

    # office readings of people without a hypertension diagnosis, on different days in 24 months
    st = p.bp_state
    who = np.flatnonzero(st > 0)
    k = np.where(st[who] == BP_STATES.index("one_high_near"), 2, rng.integers(2, 4, len(who)))
    gap = rng.integers(14, 200, len(who))
    first_lo = win.w24 + 5
    first_hi = win.as_of - 5 - (k - 1) * gap
    base = uniform_days(rng, np.maximum(p.lo[who] + 5, first_lo), first_hi)
    owner, j = repeat_index(k)
    days = base[owner] + j * gap[owner]
    state = st[who][owner]
    high_first = rng.random(len(who)) < 0.5
    rule = np.where(state == BP_STATES.index("undiagnosed"), F_BP_HIGH,
                    np.where(state == BP_STATES.index("borderline_near"), F_BP_BORDER,
                             np.where((j == 0) == high_first[owner], F_BP_HIGH, F_BP_BELOW)))
    out.append((who[owner], days, NURSE, FORCED, rule))

    # kidney function results of people without a CKD diagnosis
    ck = p.ckd_state
    for state, rule, lo, hi, apart in ((CKD_STATES.index("undiagnosed"), F_EGFR_LOW, win.w24 + 5, win.as_of - 200,
                                        (105, 181)),
                                       (CKD_STATES.index("close_near"), F_EGFR_CLOSE, win.window_start + 10,
                                        win.as_of - 100, (30, 76))):
        who = np.flatnonzero(ck == state)
        d1 = uniform_days(rng, np.maximum(p.lo[who] + 10, lo), np.full(len(who), hi, np.int64))
        d2 = d1 + rng.integers(apart[0], apart[1], len(who))
        out.append((np.concatenate([who, who]), np.concatenate([d1, d2]), NURSE, FORCED, rule))

    # HbA1c of people without a diabetes diagnosis: a high screening result and its repeat 2-13 weeks
    # later, both within 24 months (high again for the undiagnosed, normal for the near misses)
    dm = p.dm_state
    who = np.flatnonzero(dm > 0)
    d1 = uniform_days(rng, np.maximum(p.lo[who] + 10, win.w24 + 5), np.full(len(who), win.as_of - 100, np.int64))
    d2 = d1 + rng.integers(14, 91, len(who))
    repeat = np.where(dm[who] == DM_STATES.index("undiagnosed"), F_DM_HIGH, F_DM_NORMAL)
    out.append((np.concatenate([who, who]), np.concatenate([d1, d2]), NURSE, FORCED,
                np.concatenate([np.full(len(who), F_DM_HIGH), repeat])))
    return out


def _acute_table(hp: dict[str, Any], icd: Vocab) -> np.ndarray:
    """The 9 acute-code mixes (age group x setting) as one flat lookup table of ICD indices."""
    luts = []
    for gname in ("child", "adult", "old"):
        for sname in ("clinic", "emergency", "inpatient"):
            mix = hp["acute_codes"][gname][sname]
            luts.append(icd.ids(mix)[mix_lut(mix.values())])
    return np.concatenate(luts)


def _main_diagnosis(v: Visits, p: Patients, hp: dict[str, Any], icd: Vocab, rng: np.random.Generator) -> None:
    """Main ICD-10 code of each contact, and the chronic condition an ordinary contact is about."""
    vp = hp["visits"]
    nv = v.n
    code = np.zeros(nv, dtype=np.int32)
    kind, vtype, tag = v.kind, v.vtype, v.tag
    # ordinary and acute contacts: sometimes about one of the patient's chronic conditions
    share = np.array([0.0, 0.0, 0.0, vp["chronic_topic_share"], 0.15])[kind]
    cand = np.flatnonzero(rng.random(nv) < share)
    act = p.since[v.pidx[cand]] <= v.day[cand][:, None]
    scores = np.where(act, rng.random(act.shape), -1.0)
    best = scores.argmax(axis=1)
    ok = act.any(axis=1)
    v.topic[cand[ok]] = best[ok]
    topic = np.flatnonzero(v.topic >= 0)
    code[topic] = p.codes[v.pidx[topic], v.topic[topic]]
    intox = topic[(v.topic[topic] == CONDITIONS.index("alcohol")) & (vtype[topic] == EMERGENCY)
                  & (rng.random(len(topic)) < 0.5)]
    code[intox] = icd.index["F10.0"]

    # other ordinary / acute contacts: acute reasons by age group and setting
    plain = np.flatnonzero((v.topic < 0) & (kind >= ORDINARY))
    group = np.where(v.age[plain] < 18, 0, np.where(v.age[plain] < 65, 1, 2))
    setting = np.array([0, 0, 0, 1, 2])[vtype[plain]]
    code[plain] = _acute_table(hp, icd)[(group * 3 + setting) * LUT_SIZE + rng.integers(0, LUT_SIZE, len(plain))]

    # new diagnoses, planted contacts and chronic controls
    dx = np.flatnonzero(kind == DX)
    code[dx] = p.codes[v.pidx[dx], tag[dx]]
    forced = np.flatnonzero(kind == FORCED)
    rule = tag[forced]
    by_rule = np.full(F_DM_NORMAL + 1, -1, np.int32)
    by_rule[[F_BP_HIGH, F_BP_BELOW, F_BP_BORDER]] = icd.index["Z01.3"]
    by_rule[[F_EGFR_LOW, F_EGFR_CLOSE]] = icd.index["Z01.7"]
    by_rule[[F_DM_HIGH, F_DM_NORMAL]] = icd.index["Z13.1"]      # never a diabetes code: none is recorded
    fc = by_rule[rule]
    cond_of_rule = np.where(rule == F_LAPSE_BP, CONDITIONS.index("htn"), CONDITIONS.index("t2d"))
    code[forced] = np.where(fc >= 0, fc, p.codes[v.pidx[forced], cond_of_rule])
    ctrl = np.flatnonzero(kind == CONTROL)
    act = p.since[v.pidx[ctrl]][:, :len(CARDIOMETABOLIC)] <= v.day[ctrl][:, None]
    first = act.argmax(axis=1)
    code[ctrl] = np.where(act.any(axis=1), p.codes[v.pidx[ctrl], first], code[ctrl])
    v.code = code


def diagnoses(v: Visits, p: Patients, win: Windows) -> Diagnoses:
    """Main diagnoses of contacts, every active condition at controls, carried-over diagnoses."""
    ctrl = np.flatnonzero(v.kind == CONTROL)
    parts_p, parts_d, parts_v, parts_c, parts_m = [], [], [], [], []
    rows = np.flatnonzero(v.kind != CONTROL)
    parts_p.append(v.pidx[rows])
    parts_d.append(v.day[rows])
    parts_v.append(rows)
    parts_c.append(v.code[rows])
    parts_m.append(np.ones(len(rows), bool))
    first = np.ones(len(ctrl), dtype=bool)
    for cond in CARDIOMETABOLIC:
        act = p.active_at(cond, v.pidx[ctrl], v.day[ctrl])
        rows = ctrl[act]
        parts_p.append(v.pidx[rows])
        parts_d.append(v.day[rows])
        parts_v.append(rows)
        parts_c.append(p.code[cond][v.pidx[rows]])
        parts_m.append(first[act])
        first &= ~act
    for cond in CONDITIONS:
        dx = p.dx_day[cond]
        who = np.flatnonzero(p.has[cond] & (dx != NO_DATE) & (dx < win.window_start))
        parts_p.append(who)
        parts_d.append(dx[who])
        parts_v.append(np.full(len(who), -1, np.int64))
        parts_c.append(p.code[cond][who])
        parts_m.append(np.ones(len(who), bool))
    pidx = np.concatenate(parts_p).astype(np.int64)
    day = np.concatenate(parts_d).astype(np.int64)
    visit = np.concatenate(parts_v).astype(np.int64)
    order = sort_order(pidx, day)
    return Diagnoses(pidx=pidx[order], day=day[order], visit=visit[order],
                     code=np.concatenate(parts_c).astype(np.int32)[order], primary=np.concatenate(parts_m)[order])


def _on_htn_treatment(p: Patients, pidx: np.ndarray, day: np.ndarray) -> np.ndarray:
    start, end = p.htn_tx
    s, e = start[pidx], end[pidx]
    since = np.where(p.dx_day["htn"][pidx] < p.lo[pidx], p.lo[pidx], s)   # treated before the window
    return (s != NO_DATE) & (day >= since) & (day <= e + 30)


_AGE_FROM = (0, 18, 40, 45, 50, 65)     # lower ages of the age classes the probability tables use


def _table(cells: list[tuple[int, tuple[int, ...], int, float]]) -> np.ndarray:
    """Probability per (kind, visit type, age class) from ``(kind, vtypes, min_age, p)`` cells."""
    t = np.zeros(5 * 5 * len(_AGE_FROM))
    for kind, vtypes, min_age, prob in cells:
        for vt in vtypes:
            for ac, age in enumerate(_AGE_FROM):
                if age >= min_age:
                    t[(kind * 5 + vt) * len(_AGE_FROM) + ac] = prob
    return t


def _measure_probs(v: Visits, p: Patients, hp: dict[str, Any]) -> dict[str, np.ndarray]:
    """Chance that each contact produces a BP reading, HbA1c, LDL, eGFR and BMI."""
    bpp, cc = hp["blood_pressure"], hp["chronic_care"]
    clinic = (NURSE, DOCTOR)
    cls = (v.kind.astype(np.int64) * 5 + v.vtype) * len(_AGE_FROM) \
        + np.searchsorted(np.array(_AGE_FROM[1:]), v.age, side="right")
    tables = {
        "bp": _table([(ORDINARY, (NURSE,), 18, bpp["measured_nurse"]),
                      (ORDINARY, (NURSE,), 50, bpp["measured_nurse_50plus"]),
                      (ORDINARY, (DOCTOR,), 18, bpp["measured_doctor"]), (CONTROL, clinic, 18, 1.0),
                      (DX, clinic, 18, 0.3)]
                     + [(k, (EMERGENCY,), 18, bpp["measured_emergency"]) for k in (ACUTE, DX)]
                     + [(k, (INPATIENT,), 18, bpp["measured_inpatient"]) for k in (ACUTE, DX)]),
        "hba1c": _table([(ORDINARY, (DOCTOR,), 45, 0.05)]),
        "ldl": _table([(CONTROL, clinic, 0, cc["ldl_at_control"]), (ORDINARY, (DOCTOR,), 40, 0.05)]),
        "egfr": _table([(CONTROL, clinic, 0, cc["egfr_at_control"]),
                        (ORDINARY, (DOCTOR,), 65, cc["egfr_at_doctor_65plus"])]
                       + [(k, (EMERGENCY, INPATIENT), 65, cc["egfr_at_acute_65plus"]) for k in (ACUTE, DX)]),
        "bmi": _table([(CONTROL, clinic, 0, cc["bmi_at_control"]), (ORDINARY, (DOCTOR,), 18, 0.05)]),
    }
    prob = {name: t[cls] for name, t in tables.items()}
    adult = v.age >= 18
    # contacts about hypertension usually include a reading
    topic = np.flatnonzero((v.topic == CONDITIONS.index("htn")) & (v.vtype <= DOCTOR) & adult)
    prob["bp"][topic] = bpp["measured_chronic_topic"]
    # chronic controls: HbA1c of diabetics (until a planted last test), more eGFR in CKD
    ctrl = np.flatnonzero(v.kind == CONTROL)
    cp, cd = v.pidx[ctrl], v.day[ctrl]
    stop = p.hba1c_stop[cp]
    prob["hba1c"][ctrl] = np.where(p.active_at("t2d", cp, cd) & ((stop == NO_DATE) | (cd < stop)),
                                   cc["hba1c_at_t2d_control"], 0.0)
    prob["egfr"][ctrl[p.active_at("ckd", cp, cd)]] = cc["egfr_at_control_ckd"]
    # the contact of a new diagnosis: the tests that make it
    dx = np.flatnonzero(v.kind == DX)
    tag = v.tag[dx]
    prob["bp"][dx[(tag == CONDITIONS.index("htn")) & adult[dx]]] = 1.0
    prob["hba1c"][dx[tag == CONDITIONS.index("t2d")]] = 1.0
    prob["ldl"][dx[np.isin(tag, [CONDITIONS.index(c) for c in ("chd", "stroke", "t2d")])]] = 1.0
    prob["egfr"][dx[tag == CONDITIONS.index("ckd")]] = 1.0
    # planted contacts measure exactly what their rule says
    forced = np.flatnonzero(v.kind == FORCED)
    rule = v.tag[forced]
    prob["bp"][forced] = np.isin(rule, _BP_RULES)
    prob["hba1c"][forced] = np.isin(rule, [F_HBA1C, F_DM_HIGH, F_DM_NORMAL])
    prob["egfr"][forced] = (rule == F_EGFR_LOW) | (rule == F_EGFR_CLOSE)
    return prob


def measurements(v: Visits, p: Patients, hp: dict[str, Any], win: Windows, rng: np.random.Generator) -> Measurements:
    """BP readings (office, home, emergency), HbA1c, LDL, eGFR and BMI."""
    bpp, ms = hp["blood_pressure"], hp["measurements"]
    nv = v.n
    prob = _measure_probs(v, p, hp)
    acute = v.vtype >= EMERGENCY
    sel = {name: np.flatnonzero(rng.random(nv) < pr) for name, pr in prob.items()}

    bp = sel["bp"]
    lapse = p.lapse_day[v.pidx[bp]]
    bp = bp[~((lapse != NO_DATE) & (v.day[bp] > lapse) & ~acute[bp])]
    # one office session per person and day: the first contact's (forced contacts sort first)
    office = bp[~acute[bp]]
    dup = (v.pidx[office][1:] == v.pidx[office][:-1]) & (v.day[office][1:] == v.day[office][:-1])
    keep = np.ones(nv, dtype=bool)
    keep[office[1:][dup]] = False
    bp = bp[keep[bp]]
    parts = [_bp_readings(v, bp, p, bpp, rng), _home_series(p, bpp, win, rng)]

    a1c = sel["hba1c"]
    a1c = a1c[(v.kind[a1c] != ORDINARY) | ~p.active_at("t2d", v.pidx[a1c], v.day[a1c])]   # screening only
    parts.append(_hba1c(v, a1c, p, hp, rng))

    ldl = sel["ldl"]
    s_start, s_end = p.statin_tx
    lp, ld = v.pidx[ldl], v.day[ldl]
    on = (s_start[lp] != NO_DATE) & (ld >= s_start[lp]) & (ld <= s_end[lp] + 30)
    val = np.maximum(np.round(np.where(on, p.ldl_on[lp], p.ldl_off[lp])
                              + rng.normal(0, ms["ldl_reading_sd"], len(ldl)), 1), 0.5)
    parts.append((lp, ld, ldl, np.full(len(ldl), LDL, np.int8), val))

    eg = sel["egfr"]
    forced = v.kind[eg] == FORCED
    val = (p.egfr_mu[v.pidx[eg]] + rng.normal(0, ms["egfr_reading_sd"], len(eg))
           - np.where(acute[eg], ms["egfr_acute_dip"], 0))
    val = np.where(forced & (v.tag[eg] == F_EGFR_LOW), np.minimum(val, 57), val)
    val = np.where(forced & (v.tag[eg] == F_EGFR_CLOSE), rng.integers(50, 59, len(eg)), val)
    val = np.clip(np.round(val), 5, 140)
    parts.append((v.pidx[eg], v.day[eg], eg, np.full(len(eg), EGFR, np.int8), val))

    bm = sel["bmi"]
    val = np.round(p.bmi_mu[v.pidx[bm]] + rng.normal(0, 0.4, len(bm)), 1)
    parts.append((v.pidx[bm], v.day[bm], bm, np.full(len(bm), BMI, np.int8), val))

    pidx = np.concatenate([x[0] for x in parts]).astype(np.int64)
    day = np.concatenate([x[1] for x in parts]).astype(np.int64)
    visit = np.concatenate([x[2] for x in parts]).astype(np.int64)
    loinc = np.concatenate([x[3] for x in parts]).astype(np.int8)
    value = np.concatenate([x[4] for x in parts]).astype(np.float64)
    # rows stay grouped by source (visit readings, home series, labs): nothing downstream needs an order
    m = Measurements(pidx=pidx, day=day, visit=visit, loinc=loinc, value=value,
                     acute=(visit >= 0) & (v.vtype[np.maximum(visit, 0)] >= EMERGENCY))
    _borderline_hba1c(m, p, rng)
    _clear_egfr_spacing(m, rng)
    return m


def _bp_readings(v: Visits, rows: np.ndarray, p: Patients, bpp: dict[str, Any],
                 rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    pidx, day = v.pidx[rows], v.day[rows]
    on = _on_htn_treatment(p, pidx, day)
    acute = v.vtype[rows] >= EMERGENCY
    raise_ = np.where(acute, bpp["acute_setting_raise"], 0.0)
    noise = rng.normal(0, bpp["reading_sd_sbp"], len(rows))
    sbp = np.where(on, p.sbp_on[pidx], p.sbp_off[pidx]) + raise_ + noise
    dbp = np.where(on, p.dbp_on[pidx], p.dbp_off[pidx]) + 0.4 * raise_ + 0.35 * noise \
        + rng.normal(0, bpp["reading_sd_dbp"], len(rows))
    planted = np.flatnonzero(v.kind[rows] == FORCED)
    rule = v.tag[rows[planted]]
    k = len(planted)
    high, below, border = rule == F_BP_HIGH, rule == F_BP_BELOW, rule == F_BP_BORDER
    sbp[planted] = np.where(high, np.maximum(rng.normal(150, 6, k), 142),
                            np.where(below, rng.integers(130, 140, k),
                                     np.where(border, rng.integers(134, 140, k), sbp[planted])))
    dbp[planted] = np.where(high, rng.normal(92, 5, k), np.where(below, rng.integers(80, 90, k),
                                                                 np.where(border, rng.integers(84, 90, k),
                                                                          dbp[planted])))
    sbp = np.clip(np.round(sbp), 80, 240)
    dbp = np.clip(np.round(np.minimum(dbp, sbp - 15)), 40, 140)
    # known hypertensives get a repeat reading or two when the first one is high (not at planted visits)
    cand = np.flatnonzero((sbp >= 140) & ~acute)
    cand = cand[(v.kind[rows[cand]] != FORCED) & p.active_at("htn", pidx[cand], day[cand])
                & (rng.random(len(cand)) < bpp["repeat_when_high"])]
    second = cand
    third = cand[rng.random(len(cand)) < 0.5]
    s2 = sbp[second] - np.round(np.abs(rng.normal(4, 3, len(second))))
    d2 = dbp[second] - np.round(np.abs(rng.normal(2, 2, len(second))))
    pos = np.searchsorted(second, third)
    s3 = s2[pos] - np.round(np.abs(rng.normal(4, 3, len(third))))
    d3 = d2[pos] - np.round(np.abs(rng.normal(2, 2, len(third))))
    idx = np.concatenate([np.arange(len(rows)), second, third])
    r = rows[idx]
    n_all = len(idx)
    return (np.concatenate([pidx[idx], pidx[idx]]), np.concatenate([day[idx], day[idx]]), np.concatenate([r, r]),
            np.repeat(np.array([SBP, DBP], np.int8), n_all), np.concatenate([sbp, s2, s3, dbp, d2, d3]))


def _home_series(p: Patients, bpp: dict[str, Any], win: Windows, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """A week of home readings for some diagnosed hypertensives (not those who dropped out)."""
    n = p.n
    dx = p.dx_day["htn"]
    ok = _recorded(p, "htn") & (p.lapse_day == NO_DATE) & (rng.random(n) < bpp["home_series_share"])
    lo = np.maximum(p.lo, dx)
    ok &= lo <= p.hi - 7
    who = np.flatnonzero(ok)
    start = uniform_days(rng, lo[who], p.hi[who] - 7)
    owner, j = repeat_index(rng.integers(4, 8, len(who)))
    pidx = who[owner]
    day = band_shift(start[owner] + j, p.present[pidx], win)
    on = _on_htn_treatment(p, pidx, day)
    noise = rng.normal(0, bpp["reading_sd_sbp"], len(pidx))
    sbp = np.clip(np.round(np.where(on, p.sbp_on[pidx], p.sbp_off[pidx]) - 5 + noise), 80, 240)
    dbp = (np.where(on, p.dbp_on[pidx], p.dbp_off[pidx]) - 3 + 0.35 * noise
           + rng.normal(0, bpp["reading_sd_dbp"], len(pidx)))
    dbp = np.clip(np.round(np.minimum(dbp, sbp - 15)), 40, 140)
    none = np.full(len(pidx), -1, np.int64)
    codes = np.concatenate([np.full(len(pidx), SBP, np.int8), np.full(len(pidx), DBP, np.int8)])
    return (np.concatenate([pidx, pidx]), np.concatenate([day, day]), np.concatenate([none, none]), codes,
            np.concatenate([sbp, dbp]))


def _hba1c(v: Visits, rows: np.ndarray, p: Patients, hp: dict[str, Any],
           rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    cc = hp["chronic_care"]
    pidx, day = v.pidx[rows], v.day[rows]
    val = p.hba1c_mu[pidx] + rng.normal(0, hp["measurements"]["hba1c_reading_sd"], len(rows))
    new_dx = (v.kind[rows] == DX)
    val = np.where(new_dx, np.maximum(val, 49), val)
    near = (v.kind[rows] == FORCED) & (p.t2d_state[pidx] == T2D_STATES.index("overdue_near"))
    val = np.where(near, np.minimum(val, 50), val)
    # people without a diabetes diagnosis: a high result (>= 50, clear of the 48 threshold also after
    # conversion to % and back) or a normal repeat (<= 45)
    forced = v.kind[rows] == FORCED
    val = np.where(forced & (v.tag[rows] == F_DM_HIGH), np.maximum(val, rng.uniform(50, 56, len(rows))), val)
    val = np.where(forced & (v.tag[rows] == F_DM_NORMAL), np.minimum(val, 45), val)
    ifcc = np.clip(np.round(val), 20, 150)
    pct = rng.random(len(rows)) < cc["hba1c_percent_share"]
    dcct = np.round(ifcc / 10.929 + 2.15, 1)
    # keep % results off the 7.0 % (53 mmol/mol) threshold, where conversion rounding decides
    dcct = np.where((dcct >= 6.85) & (dcct <= 7.15), np.where(ifcc <= 53, 6.8, 7.2), dcct)
    value = np.where(pct, dcct, ifcc)
    code = np.where(pct, HBA1C_PCT, HBA1C_IFCC).astype(np.int8)
    return pidx, day, rows, code, value


def _borderline_hba1c(m: Measurements, p: Patients, rng: np.random.Generator) -> None:
    """Near misses: the latest HbA1c of 'borderline' diabetics is 50-53 mmol/mol (not > 53)."""
    is_a1c = (m.loinc == HBA1C_IFCC) | (m.loinc == HBA1C_PCT)
    rows = np.flatnonzero(is_a1c & (p.t2d_state[m.pidx] == T2D_STATES.index("borderline")))
    if len(rows) == 0:
        return
    rows = rows[sort_order(m.pidx[rows], m.day[rows])]
    last = rows[np.r_[m.pidx[rows][1:] != m.pidx[rows][:-1], True]]
    last_day = m.day[last]
    same = rows[m.day[rows] == last_day[np.searchsorted(m.pidx[last], m.pidx[rows])]]
    m.value[same] = rng.integers(50, 54, len(same))
    m.loinc[same] = HBA1C_IFCC


def _clear_egfr_spacing(m: Measurements, rng: np.random.Generator) -> None:
    """Keep the span of low eGFR results off the 90-day rule (84-96 days): raise the last low one."""
    for _ in range(20):
        low = np.flatnonzero((m.loinc == EGFR) & (m.value < 60))
        if len(low) == 0:
            return
        low = low[sort_order(m.pidx[low], m.day[low])]
        pid = m.pidx[low]
        head = np.r_[True, pid[1:] != pid[:-1]]
        tail = np.r_[pid[1:] != pid[:-1], True]
        span = m.day[low[tail]] - m.day[low[head]]
        bad = (span >= 84) & (span <= 96)
        if not bad.any():
            return
        fix = low[tail][bad]
        m.value[fix] = 60 + rng.integers(1, 5, len(fix))
