"""The health sector: primary-care contacts, diagnoses, medication and measurements, with planted care gaps.

Per postal area: chronic conditions are drawn from age-specific Finnish prevalences (params.yaml
``health``), each patient gets a care story (treated, untreated, stopped treatment 13 months ago,
dropped out of follow-up, ...), and contacts, diagnoses, prescriptions and results follow from it.
The care-gap truth (criteria.md §8) is then evaluated from the generated rows themselves, so it is
exactly what a correct evaluator must find; see health_truth for the semantics.

Later sectors read ``people.latent``: ``depression`` and ``alcohol`` (bool, a recorded or latent
disorder), ``chronic_count`` (conditions out of the ten modelled) and ``emergency_visits_12m``.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ennakoiva.adapters.synth.frame import SectorContext, SectorOutput, date32
from ennakoiva.adapters.synth.health_codes import (
    CONDITIONS,
    LOINC,
    UNIT_OF,
    UNITS,
    VISIT_TYPES,
    Vocab,
    Windows,
    build_vocabs,
)
from ennakoiva.adapters.synth.health_conditions import draw_patients
from ennakoiva.adapters.synth.health_events import EMERGENCY, diagnoses, measurements, visits
from ennakoiva.adapters.synth.health_rx import prescriptions
from ennakoiva.adapters.synth.health_truth import care_gap_truth
from ennakoiva.adapters.synth.ids import AREA_STRIDE, scramble

__all__ = ["SCHEMAS", "generate"]

_DX_OFFSET, _RX_OFFSET, _MEAS_OFFSET = 0, 10**9, 2 * 10**9   # event-id sequences per table


def _schema(*cols: tuple[str, pa.DataType, bool]) -> pa.Schema:
    return pa.schema([pa.field(name, typ, nullable=nullable) for name, typ, nullable in cols])


SCHEMAS = {
    "health_visit": _schema(("visit_id", pa.int64(), False), ("person_id", pa.int64(), False),
                            ("unit_id", pa.int32(), False), ("visit_date", pa.date32(), False),
                            ("visit_type", pa.string(), False)),
    "diagnosis": _schema(("diagnosis_id", pa.int64(), False), ("person_id", pa.int64(), False),
                         ("visit_id", pa.int64(), True), ("diagnosis_date", pa.date32(), False),
                         ("icd10_code", pa.string(), False), ("is_primary", pa.bool_(), False)),
    "prescription": _schema(("prescription_id", pa.int64(), False), ("person_id", pa.int64(), False),
                            ("atc_code", pa.string(), False), ("start_date", pa.date32(), False),
                            ("end_date", pa.date32(), False)),
    "measurement": _schema(("measurement_id", pa.int64(), False), ("person_id", pa.int64(), False),
                           ("visit_id", pa.int64(), True), ("measured_on", pa.date32(), False),
                           ("code", pa.string(), False), ("value", pa.float64(), False),
                           ("unit", pa.string(), False)),
}


def _strings(values: list[str] | tuple[str, ...], idx: np.ndarray) -> pa.Array:
    return Vocab(codes=list(values)).arrow(idx)


def _nullable_ids(ids: np.ndarray, rows: np.ndarray) -> pa.Array:
    out = ids[np.maximum(rows, 0)] if len(ids) else np.zeros(len(rows), np.int64)
    return pa.array(out, type=pa.int64(), mask=rows < 0)


def generate(ctx: SectorContext) -> SectorOutput:
    """Health tables and care-gap truth of one postal area."""
    people, hp, rng = ctx.people, ctx.params["health"], ctx.rng
    win = Windows.of(ctx.window_start, ctx.as_of)
    icd, atc = build_vocabs(hp)

    p = draw_patients(people, hp, win, icd, rng)
    v = visits(p, hp, win, icd, rng)
    d = diagnoses(v, p, win)
    m = measurements(v, p, hp, win, rng)
    rx = prescriptions(p, v, hp, win, icd, atc, rng)
    truth, near_miss = care_gap_truth(people, p, d, rx, m, win, icd, atc)

    # units: a home health station per person; emergency and inpatient care anywhere in the city
    local = ctx.city.units_of("health_station", people.district_code)
    every = ctx.city.unit_id[ctx.city.unit_type == "health_station"]
    home = local[rng.integers(0, len(local), people.n)]
    acute = v.vtype >= EMERGENCY
    unit = np.where(acute, every[rng.integers(0, len(every), v.n)], home[v.pidx]).astype(np.int32)

    base = people.area * AREA_STRIDE
    visit_id = scramble(base + np.arange(v.n, dtype=np.int64), "visit")
    pid = people.person_id
    tables = {
        "health_visit": pa.Table.from_arrays([
            pa.array(visit_id, pa.int64()), pa.array(pid[v.pidx], pa.int64()), pa.array(unit, pa.int32()),
            date32(v.day), _strings(VISIT_TYPES, v.vtype),
        ], schema=SCHEMAS["health_visit"]),
        "diagnosis": pa.Table.from_arrays([
            pa.array(scramble(base + _DX_OFFSET + np.arange(len(d.pidx), dtype=np.int64), "event"), pa.int64()),
            pa.array(pid[d.pidx], pa.int64()), _nullable_ids(visit_id, d.visit), date32(d.day),
            icd.arrow(d.code), pa.array(d.primary, pa.bool_()),
        ], schema=SCHEMAS["diagnosis"]),
        "prescription": pa.Table.from_arrays([
            pa.array(scramble(base + _RX_OFFSET + np.arange(len(rx.pidx), dtype=np.int64), "event"), pa.int64()),
            pa.array(pid[rx.pidx], pa.int64()), atc.arrow(rx.atc), date32(rx.start), date32(rx.end),
        ], schema=SCHEMAS["prescription"]),
        "measurement": pa.Table.from_arrays([
            pa.array(scramble(base + _MEAS_OFFSET + np.arange(len(m.pidx), dtype=np.int64), "event"), pa.int64()),
            pa.array(pid[m.pidx], pa.int64()), _nullable_ids(visit_id, m.visit), date32(m.day),
            _strings(LOINC, m.loinc), pa.array(m.value, pa.float64()), _strings(UNITS, UNIT_OF[m.loinc]),
        ], schema=SCHEMAS["measurement"]),
    }

    latent = people.latent
    latent["depression"] = p.has["depression"].copy()
    latent["alcohol"] = p.has["alcohol"].copy()
    latent["chronic_count"] = sum(p.has[c].astype(np.int64) for c in CONDITIONS)
    ed = (v.vtype == EMERGENCY) & (v.day >= win.w12)
    latent["emergency_visits_12m"] = np.bincount(v.pidx[ed], minlength=people.n).astype(np.int64)
    return SectorOutput(tables=tables, truth={"truth_care_gap": truth, "truth_care_gap_near_miss": near_miss})
