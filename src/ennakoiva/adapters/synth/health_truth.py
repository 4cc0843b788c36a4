"""Ground truth of the care-gap criteria, evaluated from the generated rows themselves.

A gap is in the truth iff its criterion holds in the data on the extract date (``as_of``), whatever
was intended; ``planted`` says whether the person was given that gap on purpose. Semantics (shared
by all criteria, and what an evaluator must implement to reproduce the truth):

* population: alive and resident on ``as_of`` (no death or move-out on or before it), calendar age
  on ``as_of`` >= 18 (``htn-untreated`` and ``htn-uncontrolled``: 18-85; ``af-no-anticoagulant``: >= 65);
* windows "in 12 / 24 months / 5 years" are ``[as_of - P12M/P24M/P5Y, as_of]`` by calendar
  arithmetic; the generator keeps every date of the population >= 4 days away from these boundaries,
  so inclusive or exclusive boundaries (or 365-day years) give the same answer;
* codes match by prefix, dot ignored: hypertension I10-I15, coronary disease / stroke / TIA I20-I25,
  I63, G45, type 2 diabetes E11, atrial fibrillation I48, CKD N18; antihypertensives ATC C02, C03,
  C07, C08, C09; statins C10AA, C10B; oral anticoagulants B01AA, B01AE07, B01AF;
* a diagnosis "exists" if any row has that code (with or without a visit, any date <= as_of);
  hypertension counts only with a diagnosis dated within 5 years (the ``htn`` definition of §7);
* "on treatment" = a prescription row of the class with start_date <= as_of and end_date >= as_of - P12M;
* blood pressure uses office and home readings only: readings at emergency or inpatient contacts
  never count. The latest BP day is the latest day with a systolic reading within 24 months; its
  value is the lowest systolic and the lowest diastolic of that day (CMS165);
* ``bp-high-no-dx``: at least 2 different days within 24 months where the day's lowest SBP >= 140 or
  lowest DBP >= 90, and no I10-I15 diagnosis at all;
* ``t2d-hba1c-overdue-or-high``: no HbA1c (4548-4 or 59261-8) within 12 months, or the latest day's
  result > 53 mmol/mol (% converted as (% - 2.15) * 10.929; several results on that day: the highest);
* ``egfr-low-no-ckd-dx``: eGFR (33914-3, any setting, any date) < 60 on results whose first and last
  dates are >= 90 days apart, and no N18 diagnosis;
* ``hba1c-high-no-dm-dx``: at least 2 HbA1c results (any setting) within 24 months >= 48 mmol/mol (%
  converted as above), and no E10-E14 diagnosis at all.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ennakoiva.adapters.synth.frame import NO_DATE, AreaPeople, nullable_date
from ennakoiva.adapters.synth.health_codes import DBP, EGFR, HBA1C_IFCC, HBA1C_PCT, SBP, Vocab, Windows
from ennakoiva.adapters.synth.health_conditions import (
    AF_STATES,
    BP_STATES,
    CKD_STATES,
    DM_STATES,
    HTN_STATES,
    STATIN_STATES,
    T2D_STATES,
    Patients,
)
from ennakoiva.adapters.synth.health_events import Diagnoses, Measurements
from ennakoiva.adapters.synth.health_rx import Prescriptions

__all__ = ["CRITERIA", "NEAR_MISS_SCHEMA", "TRUTH_SCHEMA", "care_gap_truth"]

CRITERIA = ("htn-untreated", "htn-no-bp-followup", "htn-uncontrolled", "bp-high-no-dx", "chd-no-statin",
            "t2d-hba1c-overdue-or-high", "af-no-anticoagulant", "egfr-low-no-ckd-dx", "hba1c-high-no-dm-dx")
TRUTH_SCHEMA = pa.schema([
    pa.field("person_id", pa.int64(), nullable=False),
    pa.field("criterion_id", pa.string(), nullable=False),
    pa.field("planted", pa.bool_(), nullable=False),
    pa.field("archetype", pa.string()),            # the planted (or natural) care story, if any
    pa.field("dx_date", pa.date32()),              # latest qualifying diagnosis
    pa.field("last_treatment_end", pa.date32()),   # latest end_date of the criterion's drug class
    pa.field("latest_bp_date", pa.date32()),       # latest office/home BP day within 24 months
    pa.field("latest_sbp", pa.float64()),          # lowest SBP of that day
    pa.field("latest_dbp", pa.float64()),          # lowest DBP of that day
    pa.field("high_bp_days", pa.int32()),          # days within 24 months at >= 140/90
    pa.field("latest_hba1c_mmol_mol", pa.float64()),
    pa.field("first_low_egfr_date", pa.date32()),
    pa.field("last_low_egfr_date", pa.date32()),
])
NEAR_MISS_SCHEMA = pa.schema([
    pa.field("person_id", pa.int64(), nullable=False),
    pa.field("criterion_id", pa.string(), nullable=False),
    pa.field("archetype", pa.string(), nullable=False),
])
_NEG = np.int64(-(2**40))


def _any(n: int, pidx: np.ndarray, mask: np.ndarray) -> np.ndarray:
    out = np.zeros(n, dtype=bool)
    out[pidx[mask]] = True
    return out


def _max(n: int, pidx: np.ndarray, values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    out = np.full(n, _NEG, dtype=np.int64)
    np.maximum.at(out, pidx[mask], values[mask])
    return out


def _min_f(n: int, pidx: np.ndarray, values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    out = np.full(n, np.inf)
    np.minimum.at(out, pidx[mask], values[mask])
    return out


def care_gap_truth(people: AreaPeople, p: Patients, d: Diagnoses, rx: Prescriptions, m: Measurements,
                   win: Windows, icd: Vocab, atc: Vocab) -> tuple[pa.Table, pa.Table]:
    """(truth_care_gap, truth_care_gap_near_miss) of one area."""
    n, as_of = p.n, win.as_of
    pop = p.present & (p.age_asof >= 18)
    pop85 = pop & (p.age_asof <= 85)
    pop65 = p.present & (p.age_asof >= 65)
    d_ok = d.day <= as_of

    def dx_rows(prefixes: tuple[str, ...]) -> np.ndarray:
        return icd.prefix_mask(prefixes)[d.code] & d_ok

    htn_rows = dx_rows(("I10", "I11", "I12", "I13", "I14", "I15"))
    htn5 = htn_rows & (d.day >= win.w5y)
    has_htn5, has_htn = _any(n, d.pidx, htn5), _any(n, d.pidx, htn_rows)
    vasc_rows = dx_rows(("I20", "I21", "I22", "I23", "I24", "I25", "I63", "G45"))
    t2d_rows, af_rows, ckd_rows = dx_rows(("E11",)), dx_rows(("I48",)), dx_rows(("N18",))

    def treatment(prefixes: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
        cls = atc.prefix_mask(prefixes)[rx.atc] & (rx.start <= as_of)
        return _any(n, rx.pidx, cls & (rx.end >= win.w12)), _max(n, rx.pidx, rx.end, cls)

    on_ah, ah_end = treatment(("C02", "C03", "C07", "C08", "C09"))
    on_statin, statin_end = treatment(("C10AA", "C10B"))
    on_oac, oac_end = treatment(("B01AA", "B01AE07", "B01AF"))

    # blood pressure: office and home readings only
    office = ~m.acute & (m.day <= as_of)
    sbp24 = office & (m.loinc == SBP) & (m.day >= win.w24)
    last_bp = _max(n, m.pidx, m.day, sbp24)
    on_last = m.day == last_bp[m.pidx]
    low_sbp = _min_f(n, m.pidx, m.value, sbp24 & on_last)
    low_dbp = _min_f(n, m.pidx, m.value, office & (m.loinc == DBP) & on_last)
    has_last = last_bp != _NEG
    bp12 = _any(n, m.pidx, office & ((m.loinc == SBP) | (m.loinc == DBP)) & (m.day >= win.w12))
    high_days = _high_days(n, m, office & (m.day >= win.w24))

    # HbA1c within 12 months: latest day's highest result in mmol/mol
    a1c = ((m.loinc == HBA1C_IFCC) | (m.loinc == HBA1C_PCT)) & (m.day >= win.w12) & (m.day <= as_of)
    mmol = np.where(m.loinc == HBA1C_PCT, (m.value - 2.15) * 10.929, m.value)
    last_a1c = _max(n, m.pidx, m.day, a1c)
    a1c_val = -_min_f(n, m.pidx, -mmol, a1c & (m.day == last_a1c[m.pidx]))
    has_a1c = last_a1c != _NEG

    # HbA1c results >= 48 mmol/mol within 24 months (any setting), counted per result
    a1c24 = ((m.loinc == HBA1C_IFCC) | (m.loinc == HBA1C_PCT)) & (m.day >= win.w24) & (m.day <= as_of)
    high_a1c = np.zeros(n, dtype=np.int64)
    np.add.at(high_a1c, m.pidx[a1c24 & (mmol >= 48)], 1)
    dm_rows = dx_rows(("E10", "E11", "E12", "E13", "E14"))

    low = (m.loinc == EGFR) & (m.value < 60) & (m.day <= as_of)
    low_last = _max(n, m.pidx, m.day, low)
    low_first = -_max(n, m.pidx, -m.day, low)

    gaps = {
        "htn-untreated": pop85 & has_htn5 & ~on_ah,
        "htn-no-bp-followup": pop & has_htn5 & ~bp12,
        "htn-uncontrolled": pop85 & has_htn5 & on_ah & has_last & ((low_sbp >= 140) | (low_dbp >= 90)),
        "bp-high-no-dx": pop & ~has_htn & (high_days >= 2),
        "chd-no-statin": pop & _any(n, d.pidx, vasc_rows) & ~on_statin,
        "t2d-hba1c-overdue-or-high": pop & _any(n, d.pidx, t2d_rows) & (~has_a1c | (a1c_val > 53)),
        "af-no-anticoagulant": pop65 & _any(n, d.pidx, af_rows) & ~on_oac,
        "egfr-low-no-ckd-dx": pop & ~_any(n, d.pidx, ckd_rows) & (low_last != _NEG) & (low_last - low_first >= 90),
        "hba1c-high-no-dm-dx": pop & ~_any(n, d.pidx, dm_rows) & (high_a1c >= 2),
    }
    hs, ss, ts, afs = p.htn_state, p.statin_state, p.t2d_state, p.af_state
    planted = {
        "htn-untreated": np.isin(hs, [HTN_STATES.index("untreated"), HTN_STATES.index("stopped")]),
        "htn-no-bp-followup": hs == HTN_STATES.index("lapsed"),
        "htn-uncontrolled": hs == HTN_STATES.index("uncontrolled"),
        "bp-high-no-dx": p.bp_state == BP_STATES.index("undiagnosed"),
        "chd-no-statin": np.isin(ss, [STATIN_STATES.index("none"), STATIN_STATES.index("stopped")]),
        "t2d-hba1c-overdue-or-high": np.isin(ts, [T2D_STATES.index("poor"), T2D_STATES.index("overdue")]),
        "af-no-anticoagulant": np.isin(afs, [AF_STATES.index("none"), AF_STATES.index("stopped")]),
        "egfr-low-no-ckd-dx": p.ckd_state == CKD_STATES.index("undiagnosed"),
        "hba1c-high-no-dm-dx": p.dm_state == DM_STATES.index("undiagnosed"),
    }
    near = {
        "htn-untreated": [("htn_state", hs, HTN_STATES, "stopped_near")],
        "htn-no-bp-followup": [("htn_state", hs, HTN_STATES, "lapsed_near")],
        "bp-high-no-dx": [("bp_state", p.bp_state, BP_STATES, "one_high_near"),
                          ("bp_state", p.bp_state, BP_STATES, "borderline_near")],
        "chd-no-statin": [("statin_state", ss, STATIN_STATES, "stopped_near")],
        "t2d-hba1c-overdue-or-high": [("t2d_state", ts, T2D_STATES, "overdue_near"),
                                      ("t2d_state", ts, T2D_STATES, "borderline")],
        "af-no-anticoagulant": [("af_state", afs, AF_STATES, "stopped_near")],
        "egfr-low-no-ckd-dx": [("ckd_state", p.ckd_state, CKD_STATES, "close_near")],
        "hba1c-high-no-dm-dx": [("dm_state", p.dm_state, DM_STATES, "one_high_near")],
    }
    archetype = {
        "htn-untreated": (hs, HTN_STATES), "htn-no-bp-followup": (hs, HTN_STATES),
        "htn-uncontrolled": (hs, HTN_STATES), "bp-high-no-dx": (p.bp_state, BP_STATES),
        "chd-no-statin": (ss, STATIN_STATES), "t2d-hba1c-overdue-or-high": (ts, T2D_STATES),
        "af-no-anticoagulant": (afs, AF_STATES), "egfr-low-no-ckd-dx": (p.ckd_state, CKD_STATES),
        "hba1c-high-no-dm-dx": (p.dm_state, DM_STATES),
    }
    dx_of = {
        "htn-untreated": htn5, "htn-no-bp-followup": htn5, "htn-uncontrolled": htn5, "chd-no-statin": vasc_rows,
        "t2d-hba1c-overdue-or-high": t2d_rows, "af-no-anticoagulant": af_rows,
    }
    tx_end = {"htn-untreated": ah_end, "htn-uncontrolled": ah_end, "chd-no-statin": statin_end,
              "af-no-anticoagulant": oac_end}

    cols: dict[str, list[np.ndarray]] = {f.name: [] for f in TRUTH_SCHEMA}
    nm_p: list[np.ndarray] = []
    nm_c: list[str] = []
    nm_a: list[str] = []
    none_day = np.full(n, NO_DATE, np.int64)
    for crit in CRITERIA:
        who = np.flatnonzero(gaps[crit])
        k = len(who)
        states, names = archetype[crit]
        st = states[who]
        cols["person_id"].append(people.person_id[who])
        cols["criterion_id"].append(np.full(k, crit, dtype=object))
        cols["planted"].append(planted[crit][who])
        cols["archetype"].append(np.array([*names, None], dtype=object)[st])     # state -1: none
        dxd = _max(n, d.pidx, d.day, dx_of[crit]) if crit in dx_of else none_day
        cols["dx_date"].append(np.where(dxd[who] == _NEG, NO_DATE, dxd[who]))
        te = tx_end.get(crit, none_day)[who]
        cols["last_treatment_end"].append(np.where(te == _NEG, NO_DATE, te))
        cols["latest_bp_date"].append(np.where(has_last[who], last_bp[who], NO_DATE))
        cols["latest_sbp"].append(np.where(has_last[who], low_sbp[who], np.nan))
        cols["latest_dbp"].append(np.where(has_last[who], low_dbp[who], np.nan))
        cols["high_bp_days"].append(high_days[who])
        cols["latest_hba1c_mmol_mol"].append(
            np.where(has_a1c[who], np.round(a1c_val[who], 1), np.nan) if crit.startswith("t2d") else np.full(k, np.nan))
        is_egfr = crit.startswith("egfr")
        cols["first_low_egfr_date"].append(np.where(is_egfr, low_first[who], NO_DATE))
        cols["last_low_egfr_date"].append(np.where(is_egfr, low_last[who], NO_DATE))
        for _field, states_, names_, state in near.get(crit, []):
            miss = np.flatnonzero((states_ == names_.index(state)) & ~gaps[crit] & p.present)
            nm_p.append(people.person_id[miss])
            nm_c.extend([crit] * len(miss))
            nm_a.extend([state] * len(miss))

    def cat(name: str) -> np.ndarray:
        return np.concatenate(cols[name]) if cols[name] else np.zeros(0)

    def dates(name: str) -> pa.Array:
        return nullable_date(cat(name).astype(np.int64))

    def floats(name: str) -> pa.Array:
        x = cat(name).astype(np.float64)
        return pa.array(x, type=pa.float64(), mask=np.isnan(x))

    truth = pa.Table.from_arrays([
        pa.array(cat("person_id").astype(np.int64), pa.int64()),
        pa.array(cat("criterion_id"), pa.string()),
        pa.array(cat("planted").astype(bool), pa.bool_()),
        pa.array(cat("archetype"), pa.string()),
        dates("dx_date"), dates("last_treatment_end"), dates("latest_bp_date"),
        floats("latest_sbp"), floats("latest_dbp"),
        pa.array(cat("high_bp_days").astype(np.int32), pa.int32()),
        floats("latest_hba1c_mmol_mol"), dates("first_low_egfr_date"), dates("last_low_egfr_date"),
    ], schema=TRUTH_SCHEMA)
    near_miss = pa.Table.from_arrays([
        pa.array(np.concatenate(nm_p).astype(np.int64) if nm_p else np.zeros(0, np.int64), pa.int64()),
        pa.array(nm_c, pa.string()), pa.array(nm_a, pa.string()),
    ], schema=NEAR_MISS_SCHEMA)
    return truth, near_miss


def _high_days(n: int, m: Measurements, rows: np.ndarray) -> np.ndarray:
    """Per person: days whose lowest SBP >= 140 or lowest DBP >= 90 (rows: eligible readings)."""
    sel = np.flatnonzero(rows & ((m.loinc == SBP) | (m.loinc == DBP)))
    out = np.zeros(n, dtype=np.int32)
    if len(sel) == 0:
        return out
    key = m.pidx[sel] * 1_000_000 + (m.day[sel] - m.day[sel].min())
    uniq, inv = np.unique(key, return_inverse=True)
    s_min = np.full(len(uniq), np.inf)
    d_min = np.full(len(uniq), np.inf)
    is_s = m.loinc[sel] == SBP
    np.minimum.at(s_min, inv[is_s], m.value[sel][is_s])
    np.minimum.at(d_min, inv[~is_s], m.value[sel][~is_s])
    high = ((s_min >= 140) & np.isfinite(s_min)) | ((d_min >= 90) & np.isfinite(d_min))
    np.add.at(out, uniq[high] // 1_000_000, 1)
    return out
