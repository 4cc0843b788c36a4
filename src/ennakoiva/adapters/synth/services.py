"""City-level facts generated before any person: service units and the buildings they work in.

Counts scale with the city: roughly one daycare centre per 110 children under seven, one health
station per 28 000 residents, one family centre per major district and one employment office per
150 000 residents, placed in the districts where the people are (Helsinki runs about 25 health
stations, 7 family centres and ~300 municipal daycare centres for ~670 000 residents).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from ennakoiva.adapters.synth.calibration import Calibration
from ennakoiva.adapters.synth.frame import CityFrame
from ennakoiva.adapters.synth.sampling import allocate

__all__ = ["generate_city"]

_USE_AREA = {  # gross floor area m2: lognormal median per building use
    "daycare": 900.0, "school": 6500.0, "health_station": 3200.0, "office": 2500.0,
    "sports": 3000.0, "library": 1500.0, "housing_service": 5000.0,
}


def generate_city(cal: Calibration, residents_by_area: np.ndarray, params: dict[str, Any],
                  rng: np.random.Generator) -> tuple[CityFrame, dict[str, pa.Table]]:
    """Service units and buildings for a city whose areas have ``residents_by_area`` people."""
    districts = sorted(set(cal.district_code))
    d_index = np.array([districts.index(d) for d in cal.district_code])
    scale = residents_by_area / np.maximum(cal.inhabitants, 1)
    small_children = cal.age_bands[:, :2].sum(axis=1) * scale     # ages 0-6
    pop_d = np.bincount(d_index, weights=residents_by_area, minlength=len(districts))
    kids_d = np.bincount(d_index, weights=small_children, minlength=len(districts))
    total = float(residents_by_area.sum())

    plan: list[tuple[str, str, int]] = []  # (unit_type, district, capacity)
    n_daycare = max(1, round(kids_d.sum() / 110))
    for d, k in zip(districts, allocate(n_daycare, kids_d), strict=True):
        plan += [("daycare", d, int(rng.integers(40, 160))) for _ in range(int(k))]
    n_hs = max(1, round(total / 28_000))
    for d, k in zip(districts, allocate(n_hs, pop_d), strict=True):
        plan += [("health_station", d, int(total / n_hs * rng.uniform(0.8, 1.2))) for _ in range(int(k))]
    majors = sorted({d[0] for d in districts})
    for m in majors:
        in_major = [i for i, d in enumerate(districts) if d[0] == m]
        host = districts[max(in_major, key=lambda i: pop_d[i])]
        plan.append(("family_centre", host, int(rng.integers(40, 120))))
    n_emp = max(1, round(total / 150_000))
    for d in [districts[i] for i in np.argsort(-pop_d, kind="stable")[:n_emp]]:
        plan.append(("employment_office", d, int(rng.integers(150, 400))))

    n = len(plan)
    unit_type = np.array([p[0] for p in plan], dtype=object)
    unit_district = np.array([p[1] for p in plan], dtype=object)
    languages = np.full(n, "fi,sv,en", dtype=object)
    is_dc = unit_type == "daycare"
    lang_draw = rng.random(n)
    languages[is_dc] = np.where(lang_draw[is_dc] < 0.09, "sv", np.where(lang_draw[is_dc] < 0.14, "fi,en", "fi"))
    names_fi = {d: cal.district_name_fi[cal.district_code.index(d)] for d in districts}
    counter: dict[tuple[str, str], int] = {}
    names = []
    label = {"daycare": "Päiväkoti", "health_station": "terveysasema", "family_centre": "perhekeskus",
             "employment_office": "työllisyyspalvelut"}
    for t, d in zip(unit_type, unit_district, strict=True):
        counter[(t, d)] = counter.get((t, d), 0) + 1
        k = counter[(t, d)]
        base = f"{label[t]} {names_fi[d]}" if t == "daycare" else f"{names_fi[d]} {label[t]}"
        if t == "daycare" and languages[len(names)] == "sv":
            base = f"Daghemmet {names_fi[d]}"
        names.append(f"{base} {k}" if k > 1 or t == "daycare" else base)
    postal = np.array([_postal_in(cal, d, rng) for d in unit_district], dtype=object)

    # buildings: one per unit, plus schools, sports halls, libraries and service housing
    b_use = np.array([{"daycare": "daycare", "health_station": "health_station"}.get(t, "office")
                      for t in unit_type], dtype=object)
    extra: list[tuple[str, str]] = []
    for use, per in (("school", 9_000), ("sports", 40_000), ("library", 35_000), ("housing_service", 30_000)):
        for d, k in zip(districts, allocate(max(1, round(total / per)), pop_d), strict=True):
            extra += [(use, d)] * int(k)
    all_use = np.concatenate([b_use, np.array([e[0] for e in extra], dtype=object)])
    all_district = np.concatenate([unit_district, np.array([e[1] for e in extra], dtype=object)])
    all_postal = np.concatenate([postal, np.array([_postal_in(cal, e[1], rng) for e in extra], dtype=object)])
    nb = len(all_use)
    building_id = np.arange(1, nb + 1, dtype=np.int32)
    median_area = np.array([_USE_AREA[u] for u in all_use])
    floor = np.round(median_area * rng.lognormal(0, 0.35, nb), 0)
    built = np.clip(np.round(rng.normal(1975, 22, nb)), 1890, 2025).astype(np.int32)
    unit_id = np.arange(1, n + 1, dtype=np.int32)
    capacity = np.array([p[2] for p in plan], dtype=np.int32)
    units = pa.table({
        "unit_id": unit_id, "unit_type": pa.array(unit_type, pa.string()), "name": pa.array(names, pa.string()),
        "district_code": pa.array(unit_district, pa.string()), "postal_code": pa.array(postal, pa.string()),
        "languages": pa.array(languages, pa.string()), "capacity": capacity,
        "building_id": building_id[:n],
    })
    buildings = pa.table({
        "building_id": building_id, "district_code": pa.array(all_district, pa.string()),
        "postal_code": pa.array(all_postal, pa.string()), "building_use": pa.array(all_use, pa.string()),
        "floor_area_m2": floor.clip(50, 150_000), "built_year": built,
    })
    city = CityFrame(unit_id=unit_id, unit_type=unit_type, unit_district=unit_district,
                     unit_languages=languages, unit_capacity=capacity)
    return city, {"service_unit": units, "building": buildings}


def _postal_in(cal: Calibration, district: str, rng: np.random.Generator) -> str:
    codes = [c for c, d in zip(cal.postal_code, cal.district_code, strict=True) if d == district]
    return codes[int(rng.integers(0, len(codes)))]
