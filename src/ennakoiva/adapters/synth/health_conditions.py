"""Who is ill with what, since when, how they are treated, and which care gaps are planted.

Everything here is per person (arrays of length ``people.n``): chronic conditions drawn from
age-specific prevalences, the day each was first recorded, the care "archetype" of a patient
(treated, untreated, stopped 13 months ago, dropped out of follow-up ...), treatment periods and the
latent means that measurements are drawn around. Events are generated from this in health_events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ennakoiva.adapters.synth.frame import NO_DATE, AreaPeople
from ennakoiva.adapters.synth.health_codes import CONDITIONS, Vocab, Windows, calendar_age, draw_mix, uniform_days
from ennakoiva.adapters.synth.sampling import categorical, interp_by_age

__all__ = [
    "AF_STATES", "BP_STATES", "CKD_STATES", "DM_STATES", "HTN_STATES", "STATIN_STATES", "T2D_STATES", "Patients",
    "draw_patients",
]

_YEAR = 365.25
FAR = np.int64(2**31 - 1)
# care archetypes, in the order of their shares in params.yaml health.care_gaps
HTN_STATES = ("treated", "mild_untreated", "untreated", "stopped", "stopped_near", "uncontrolled", "lapsed",
              "lapsed_near")
STATIN_STATES = ("treated", "none", "stopped", "stopped_near", "declined")
T2D_STATES = ("controlled", "poor", "overdue", "overdue_near", "borderline")
AF_STATES = ("treated", "none", "stopped", "stopped_near")
BP_STATES = ("none", "undiagnosed", "one_high_near", "borderline_near")
CKD_STATES = ("none", "undiagnosed", "close_near")
DM_STATES = ("none", "undiagnosed", "one_high_near")        # HbA1c without a diabetes diagnosis


@dataclass
class Patients:
    """Per-person health facts of one postal area."""

    n: int
    birth: np.ndarray
    lo: np.ndarray                    # first day an event may fall on
    hi: np.ndarray                    # last day an event may fall on (hi < lo: no events)
    present: np.ndarray               # alive and resident on the extract date
    mover: np.ndarray                 # moved into the city during the window
    age_asof: np.ndarray              # calendar age on the extract date
    age_hi: np.ndarray                # age in years on the last event day
    eligible: np.ndarray              # may carry a planted gap (present, 25-85, in the data >= 3 years)
    has: dict[str, np.ndarray] = field(default_factory=dict)
    dx_day: dict[str, np.ndarray] = field(default_factory=dict)   # first recorded (NO_DATE: never)
    code: dict[str, np.ndarray] = field(default_factory=dict)     # ICD vocabulary index per person
    htn_state: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))
    statin_state: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))
    t2d_state: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))
    af_state: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))
    bp_state: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))
    ckd_state: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))
    dm_state: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))
    # treatment periods [start, end] (NO_DATE start: none)
    htn_tx: tuple[np.ndarray, np.ndarray] = (np.zeros(0, np.int64), np.zeros(0, np.int64))
    statin_tx: tuple[np.ndarray, np.ndarray] = (np.zeros(0, np.int64), np.zeros(0, np.int64))
    oac_tx: tuple[np.ndarray, np.ndarray] = (np.zeros(0, np.int64), np.zeros(0, np.int64))
    lapse_day: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))    # last clinic BP
    hba1c_stop: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))   # last HbA1c
    # latent means that readings scatter around
    sbp_off: np.ndarray = field(default_factory=lambda: np.zeros(0))
    sbp_on: np.ndarray = field(default_factory=lambda: np.zeros(0))
    dbp_off: np.ndarray = field(default_factory=lambda: np.zeros(0))
    dbp_on: np.ndarray = field(default_factory=lambda: np.zeros(0))
    hba1c_mu: np.ndarray = field(default_factory=lambda: np.zeros(0))
    ldl_off: np.ndarray = field(default_factory=lambda: np.zeros(0))
    ldl_on: np.ndarray = field(default_factory=lambda: np.zeros(0))
    egfr_mu: np.ndarray = field(default_factory=lambda: np.zeros(0))
    bmi_mu: np.ndarray = field(default_factory=lambda: np.zeros(0))

    since: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.int64))  # (n, conditions)
    codes: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.int32))  # (n, conditions)

    def finalise(self) -> None:
        """Freeze diagnosis days into matrices: ``since`` is FAR where a condition is never on record."""
        self.since = np.stack([np.where(self.has[c] & (self.dx_day[c] != NO_DATE), self.dx_day[c], FAR)
                               for c in CONDITIONS], axis=1)
        self.codes = np.stack([self.code[c] for c in CONDITIONS], axis=1).astype(np.int32)

    def active_at(self, cond: str, pidx: np.ndarray, days: np.ndarray) -> np.ndarray:
        """Whether ``cond`` was on record for person ``pidx`` on ``days`` (row-wise)."""
        return self.since[pidx, CONDITIONS.index(cond)] <= days


def draw_patients(people: AreaPeople, hp: dict[str, Any], win: Windows, icd: Vocab,
                  rng: np.random.Generator) -> Patients:
    """Conditions, diagnosis days, care archetypes and latent levels for everyone in the area."""
    n = people.n
    birth = people.birth.astype(np.int64)
    move_in = people.move_in.astype(np.int64)
    mover = move_in != NO_DATE
    end = people.present_until()
    lo = np.maximum(np.maximum(win.window_start, birth), np.where(mover, move_in, 0))
    hi = np.minimum(win.as_of - 1, end - 1)
    present = (end > win.as_of) & (birth <= win.as_of)
    age_asof = calendar_age(birth, win.as_of)
    age_hi = (np.maximum(hi, birth) - birth) / _YEAR
    eligible = present & (age_asof >= 25) & (age_asof <= 85) & (lo <= win.as_of - 1096)
    p = Patients(n=n, birth=birth, lo=lo, hi=hi, present=present, mover=mover, age_asof=age_asof,
                 age_hi=age_hi, eligible=eligible)
    male = ~people.female
    _draw_conditions(p, male, hp, win, icd, rng)
    _care_states(p, hp, win, rng)
    _latent_levels(p, hp, rng)
    p.finalise()
    return p


def _draw_conditions(p: Patients, male: np.ndarray, hp: dict[str, Any], win: Windows, icd: Vocab,
                     rng: np.random.Generator) -> None:
    probs: dict[str, np.ndarray] = {}
    for cond in CONDITIONS:
        spec = hp["conditions"][cond]
        m = float(spec["male_ratio"])
        base = interp_by_age(p.age_hi, spec["prevalence_by_age"]) * np.where(male, 2 * m / (1 + m), 2 / (1 + m))
        probs[cond] = base
        prob = base.copy()
        for driver, rr in spec.get("rr", {}).items():
            # relative risk given a driver condition, normalised so the age prevalence is kept
            prob *= np.where(p.has[driver], rr, 1.0) / (1 + probs[driver] * (rr - 1))
        has = rng.random(p.n) < np.clip(prob, 0, 0.95)
        p.has[cond] = has
        p.code[cond] = draw_mix(rng, p.n, spec["codes"], icd)

        earliest = p.birth + np.int64(spec["onset_age"] * _YEAR)
        can_pre = (earliest < win.window_start) & ~p.mover
        incident = ~can_pre | (rng.random(p.n) < spec["incident_share"])
        # carried-over diagnoses: recorded up to 25 years before the window (never before onset age)
        oldest = np.maximum(earliest, win.window_start - int(25 * _YEAR))
        pre_day = uniform_days(rng, oldest, np.full(p.n, win.window_start - 1, np.int64))
        inc_lo = np.maximum(p.lo, earliest)
        inc_day = uniform_days(rng, inc_lo, p.hi)
        # a mover's old condition is recorded at a first visit soon after moving in
        moved_day = np.minimum(p.lo + rng.integers(7, 120, p.n), p.hi)
        dx = np.where(incident, np.where(p.mover & (rng.random(p.n) > spec["incident_share"]), moved_day, inc_day),
                      pre_day)
        ok = has & np.where(incident, (inc_lo <= p.hi) & (dx >= inc_lo) & (dx <= p.hi), True)
        dx = np.where(ok, dx, NO_DATE)
        # keep carried-over diagnoses off the 5-year look-back boundary (inclusive/exclusive safe)
        near = (dx >= win.w5y - 3) & (dx <= win.w5y + 3)
        p.dx_day[cond] = np.where(near, win.w5y + 4, dx).astype(np.int64)


def _states(rng: np.random.Generator, mask: np.ndarray, shares: dict[str, float], names: tuple[str, ...],
            fallback: dict[str, float]) -> np.ndarray:
    """Archetype index per person: ``shares`` for eligible ``mask``, ``fallback`` for the others."""
    full = np.array([shares.get(k, 0.0) for k in names])
    rest = np.array([fallback.get(k, 0.0) for k in names])
    probs = np.where(mask[:, None], full[None, :], rest[None, :])
    return categorical(rng, probs).astype(np.int8)


def _tx_start(p: Patients, dx: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """First purchase: soon after the window opens for old diagnoses, soon after a new one."""
    return np.where(dx < p.lo, p.lo + rng.integers(0, 45, p.n), dx + rng.integers(0, 30, p.n))


def _pull_dx_before(p: Patients, conds: tuple[str, ...], who: np.ndarray, limit: np.ndarray) -> None:
    """Make the diagnoses of ``who`` at least 150 days older than ``limit`` (a stop or lapse day)."""
    for cond in conds:
        dx = p.dx_day[cond]
        target = who & p.has[cond] & (dx != NO_DATE) & (dx > limit - 150)
        floor = np.where(p.mover, p.lo + 7, dx - 100_000)
        p.dx_day[cond] = np.where(target, np.maximum(limit - 150, floor), dx)


def _care_states(p: Patients, hp: dict[str, Any], win: Windows, rng: np.random.Generator) -> None:
    gaps = hp["care_gaps"]
    n = p.n
    none = np.full(n, NO_DATE, dtype=np.int64)
    recorded = {c: p.has[c] & (p.dx_day[c] != NO_DATE) for c in CONDITIONS}
    stop_far = win.w12 - rng.integers(10, 400, n)        # ended 12.3-25 months ago: a gap
    stop_near = win.w12 + rng.integers(10, 90, n)        # ended 9-11.7 months ago: not a gap

    # --- hypertension
    htn = recorded["htn"]
    st = _states(rng, p.eligible & htn, gaps["htn"], HTN_STATES,
                 {"treated": 0.8, "mild_untreated": 0.1, "uncontrolled": 0.1})
    st[~htn] = -1
    p.htn_state = st
    untreated = st == HTN_STATES.index("untreated")
    dx = p.dx_day["htn"]
    # a planted untreated hypertensive has a diagnosis inside the 5-year look-back
    recent = win.w5y + 10 + np.floor(rng.random(n) * (win.window_start - win.w5y - 20)).astype(np.int64)
    p.dx_day["htn"] = np.where(untreated & (dx < win.w5y + 10), recent, dx)
    stopped = np.isin(st, [HTN_STATES.index("stopped"), HTN_STATES.index("stopped_near")])
    htn_stop = np.where(st == HTN_STATES.index("stopped"), stop_far, stop_near)
    _pull_dx_before(p, ("htn",), stopped, htn_stop)
    lapsed = np.isin(st, [HTN_STATES.index("lapsed"), HTN_STATES.index("lapsed_near")])
    lapse = np.where(st == HTN_STATES.index("lapsed"), win.w12 - rng.integers(10, 540, n),
                     win.w12 + rng.integers(10, 90, n))
    p.lapse_day = np.where(lapsed, lapse, NO_DATE)
    _pull_dx_before(p, ("htn", "t2d", "chd", "af", "stroke", "ckd"), lapsed, lapse)
    treated = htn & ~np.isin(st, [HTN_STATES.index("mild_untreated"), HTN_STATES.index("untreated")])
    start = _tx_start(p, p.dx_day["htn"], rng)
    stop = np.where(stopped, htn_stop, p.hi)
    treated &= start <= stop
    p.htn_tx = (np.where(treated, start, none), np.where(treated, stop, none))

    # --- statins for coronary heart disease or stroke / TIA
    vasc = recorded["chd"] | recorded["stroke"]
    st = _states(rng, p.eligible & vasc, gaps["statin"], STATIN_STATES, {"treated": 0.9, "declined": 0.1})
    st[~vasc] = -1
    p.statin_state = st
    stopped = np.isin(st, [STATIN_STATES.index("stopped"), STATIN_STATES.index("stopped_near")])
    statin_stop = np.where(st == STATIN_STATES.index("stopped"), stop_far, stop_near)
    _pull_dx_before(p, ("chd", "stroke"), stopped, statin_stop)
    vdx = np.minimum(np.where(recorded["chd"], p.dx_day["chd"], FAR),
                     np.where(recorded["stroke"], p.dx_day["stroke"], FAR))
    tr = hp["treatment"]
    other = ~vasc & ((recorded["t2d"] & (rng.random(n) < tr["statin_t2d"]))
                     | (recorded["htn"] & (rng.random(n) < tr["statin_htn"])))
    odx = np.minimum(np.where(recorded["t2d"], p.dx_day["t2d"], FAR), np.where(recorded["htn"], p.dx_day["htn"], FAR))
    on = (vasc & np.isin(st, [0, STATIN_STATES.index("stopped"), STATIN_STATES.index("stopped_near")])) | other
    start = _tx_start(p, np.where(vasc, vdx, odx), rng)
    stop = np.where(stopped, statin_stop, p.hi)
    on &= start <= stop
    p.statin_tx = (np.where(on, start, none), np.where(on, stop, none))

    # --- type 2 diabetes follow-up
    t2d = recorded["t2d"]
    st = _states(rng, p.eligible & t2d, gaps["t2d"], T2D_STATES, {"controlled": 0.85, "poor": 0.15})
    st[~t2d] = -1
    p.t2d_state = st
    overdue = np.isin(st, [T2D_STATES.index("overdue"), T2D_STATES.index("overdue_near")])
    last = np.where(st == T2D_STATES.index("overdue"), stop_far, stop_near)
    p.hba1c_stop = np.where(overdue, last, NO_DATE)
    _pull_dx_before(p, ("t2d",), overdue, last)

    # --- atrial fibrillation and anticoagulation (the criterion concerns those aged 65+)
    af = recorded["af"]
    af_elig = p.present & (p.age_asof >= 65) & (p.lo <= win.as_of - 1096)
    young = p.age_asof < 65
    p_young = float(tr["anticoagulant_under_65"])
    st = _states(rng, af_elig & af, gaps["af"], AF_STATES, {"treated": 0.88, "none": 0.12})
    redo = af & young & ~af_elig
    st[redo] = np.where(rng.random(int(redo.sum())) < p_young, 0, AF_STATES.index("none"))
    st[~af] = -1
    p.af_state = st
    stopped = np.isin(st, [AF_STATES.index("stopped"), AF_STATES.index("stopped_near")])
    oac_stop = np.where(st == AF_STATES.index("stopped"), stop_far, stop_near)
    _pull_dx_before(p, ("af",), stopped, oac_stop)
    on = af & (st != AF_STATES.index("none"))
    start = _tx_start(p, p.dx_day["af"], rng)
    stop = np.where(stopped, oac_stop, p.hi)
    on &= start <= stop
    p.oac_tx = (np.where(on, start, none), np.where(on, stop, none))

    # --- not diagnosed with hypertension: planted high readings and near misses
    free = p.eligible & ~p.has["htn"]
    p_hi = interp_by_age(p.age_asof, gaps["bp_undiagnosed_by_age"])
    p_near = interp_by_age(p.age_asof, gaps["bp_near_by_age"])
    u = rng.random(n)
    bp = np.zeros(n, dtype=np.int8)
    bp[free & (u < p_hi)] = BP_STATES.index("undiagnosed")
    near = free & (u >= p_hi) & (u < p_hi + p_near)
    bp[near] = np.where(rng.random(int(near.sum())) < 0.5, BP_STATES.index("one_high_near"),
                        BP_STATES.index("borderline_near"))
    p.bp_state = bp

    # --- kidney function without a CKD diagnosis
    free = p.eligible & ~p.has["ckd"] & (p.age_asof >= 50)
    p_undx = interp_by_age(p.age_asof, gaps["ckd_undiagnosed_by_age"])
    p_close = interp_by_age(p.age_asof, gaps["ckd_near_by_age"])
    u = rng.random(n)
    ck = np.zeros(n, dtype=np.int8)
    ck[free & (u < p_undx)] = CKD_STATES.index("undiagnosed")
    ck[free & (u >= p_undx) & (u < p_undx + p_close)] = CKD_STATES.index("close_near")
    p.ckd_state = ck

    # high HbA1c without a diabetes diagnosis
    free = p.eligible & ~p.has["t2d"] & (p.age_asof >= 35)
    p_undx = interp_by_age(p.age_asof, gaps["dm_undiagnosed_by_age"])
    p_near = interp_by_age(p.age_asof, gaps["dm_near_by_age"])
    u = rng.random(n)
    dm = np.zeros(n, dtype=np.int8)
    dm[free & (u < p_undx)] = DM_STATES.index("undiagnosed")
    dm[free & (u >= p_undx) & (u < p_undx + p_near)] = DM_STATES.index("one_high_near")
    p.dm_state = dm


def _latent_levels(p: Patients, hp: dict[str, Any], rng: np.random.Generator) -> None:
    bp, gaps, ms = hp["blood_pressure"], hp["care_gaps"], hp["measurements"]
    n = p.n
    age = p.age_hi
    z = rng.normal(0, 1, n)
    normal = bp["normal_sbp_at_25"] + bp["normal_sbp_per_year"] * np.maximum(age - 25, 0) + bp["person_sd"] * z
    htn = p.has["htn"]
    st = p.htn_state

    def nrm(spec: list[float]) -> np.ndarray:
        return spec[0] + spec[1] * rng.normal(0, 1, n)

    off = np.where(htn, np.where(st == HTN_STATES.index("mild_untreated"), nrm(gaps["sbp_mild"]),
                                 nrm(gaps["sbp_untreated"])), normal)
    off = np.where(p.bp_state == BP_STATES.index("undiagnosed"), 151 + 5 * rng.normal(0, 1, n), off)
    off = np.where(np.isin(p.bp_state, [2, 3]), 127 + 4 * rng.normal(0, 1, n), off)
    on = np.where(st == HTN_STATES.index("uncontrolled"), nrm(gaps["sbp_uncontrolled"]), nrm(gaps["sbp_treated"]))
    on = np.where(htn, on, off)
    dz = rng.normal(0, 3, n) - 0.2 * np.maximum(age - 60, 0)
    p.sbp_off, p.sbp_on = off, on
    p.dbp_off, p.dbp_on = 0.55 * off + 10 + dz, 0.55 * on + 10 + dz

    hc, hpoor = ms["hba1c_controlled"], ms["hba1c_poor"]
    t2 = p.t2d_state
    mu = np.where(t2 == T2D_STATES.index("poor"), hpoor[0] + hpoor[1] * rng.normal(0, 1, n),
                  hc[0] + hc[1] * rng.normal(0, 1, n))
    mu = np.where(np.isin(t2, [T2D_STATES.index("overdue_near"), T2D_STATES.index("borderline")]),
                  47 + 3 * rng.normal(0, 1, n), mu)
    p.hba1c_mu = np.where(p.has["t2d"], np.maximum(mu, 38), 36 + 2.5 * rng.normal(0, 1, n))
    p.hba1c_mu = np.where(p.dm_state == DM_STATES.index("undiagnosed"), np.maximum(53 + 3 * rng.normal(0, 1, n), 50),
                          p.hba1c_mu)

    off_l, on_l = ms["ldl_off"], ms["ldl_on"]
    p.ldl_off = np.maximum(off_l[0] + off_l[1] * rng.normal(0, 1, n), 1.2)
    p.ldl_on = np.maximum(on_l[0] + on_l[1] * rng.normal(0, 1, n), 0.8)

    egfr = ms["egfr_at_30"] - ms["egfr_per_year"] * np.maximum(age - 30, 0) + ms["egfr_person_sd"] * rng.normal(0, 1, n)
    egfr = np.clip(egfr, ms["egfr_floor_without_ckd"], 130)
    lo_c, hi_c = ms["egfr_ckd"]
    egfr = np.where(p.has["ckd"], rng.uniform(lo_c, hi_c, n), egfr)
    p.egfr_mu = np.where(p.ckd_state == CKD_STATES.index("undiagnosed"), rng.uniform(40, 55, n), egfr)

    b = ms["bmi"]
    p.bmi_mu = np.clip(b[0] + b[1] * rng.normal(0, 1, n) + np.where(p.has["t2d"], ms["bmi_t2d_raise"], 0), 16, 55)
