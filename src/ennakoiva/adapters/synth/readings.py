"""Hourly energy and indoor-air readings of city buildings, with planted faults as ground truth.

Espoo's "Energy-smart cities" project (2018–2020) collected what every city building produces:
hourly energy use and indoor conditions, to cut energy use and catch bad indoor air. This module
synthesises one year of such readings (the year before the as-of date, from the register window's
start at the earliest) for every building of the ``building`` table:

* energy: space heating ∝ floor area × heating degree hours (17 °C base, outdoor temperature
  smoothed by the building's thermal inertia) × an intensity set by the building's age, plus tap
  water and electricity that follows the use's opening hours (Helsinki local time);
* indoor temperature around a per-building setpoint, warmer when occupied and on hot days;
* CO2 rising above outdoor air while occupied (600–1000 ppm at peak), lagging the occupancy;
* humidity from the outdoor vapour pressure plus moisture from people: dry in winter, 40–60 % in
  summer.

About 5 % of buildings get one planted fault, listed in ``truth_building_anomaly`` (building_id,
anomaly, start, end; start inclusive, end exclusive, UTC): ``ventilation_failure`` (CO2 above
1500 ppm for days), ``stuck_sensor`` (temperature, CO2 and humidity repeat one reading for a week),
``data_gap`` (several outages with every value null), ``heating_fault`` (energy ×1.5 for weeks in
the heating season) and ``summer_overheating`` (indoor temperature above 26 °C in summer). Rare
single missing values (sensor dropouts) are not listed. Values are clipped to the registry ranges.

Everything is vectorised over (buildings, hours) and yielded in chunks of ``chunk_buildings``
buildings, so memory stays bounded whatever the city size.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import numpy as np
import pyarrow as pa

from ennakoiva.adapters.synth.calibration import load_params
from ennakoiva.adapters.synth.frame import EPOCH
from ennakoiva.adapters.synth.readings_time import (
    HOUR_US,
    USES,
    Hours,
    hour_index,
    occupancy,
    outdoor_weather,
    smooth,
    vapour_pressure_hpa,
)
from ennakoiva.domain.registry import default_registry

__all__ = ["ANOMALIES", "READING_SCHEMA", "TRUTH_SCHEMA", "generate_readings", "reading_window"]

ANOMALIES = ("ventilation_failure", "stuck_sensor", "data_gap", "heating_fault", "summer_overheating")
_TS = pa.timestamp("us", tz="UTC")
READING_SCHEMA = pa.schema([
    pa.field("building_id", pa.int32(), nullable=False),
    pa.field("reading_at", _TS, nullable=False),
    pa.field("energy_kwh", pa.float64()),
    pa.field("temperature_c", pa.float64()),
    pa.field("co2_ppm", pa.float64()),
    pa.field("humidity_pct", pa.float64()),
])
TRUTH_SCHEMA = pa.schema([
    pa.field("building_id", pa.int32(), nullable=False),
    pa.field("anomaly", pa.string(), nullable=False),
    pa.field("start", _TS, nullable=False),
    pa.field("end", _TS, nullable=False),
])
_VALUES = ("energy_kwh", "temperature_c", "co2_ppm", "humidity_pct")
_DECIMALS = (2, 1, 0, 1)                     # sensor resolution
_SEASON_MONTHS = {                           # months a fault may start in
    "ventilation_failure": (1, 2, 3, 4, 5, 9, 10, 11, 12),
    "heating_fault": (11, 12, 1, 2, 3),
    "summer_overheating": (6, 7, 8),
}
_VENTILATION_FLOOR_PPM = 1510.0

Anomaly = tuple[int, str, int, int]          # building index, anomaly, first hour, end hour (exclusive)


def reading_window(window_start: int, as_of: int) -> tuple[int, int]:
    """First and end (exclusive) local day of the readings: the year before as-of, within the window."""
    end = EPOCH + timedelta(days=as_of)
    try:
        year_before = end.replace(year=end.year - 1)
    except ValueError:                       # 29 February
        year_before = end.replace(year=end.year - 1, day=28)
    return max(window_start, (year_before - EPOCH).days), as_of


def generate_readings(buildings: pa.Table, window_start: int, as_of: int, rng: np.random.Generator,
                      params: dict[str, Any] | None = None,
                      ) -> Iterator[tuple[dict[str, pa.Table], dict[str, pa.Table]]]:
    """Yield ({"building_reading": ...}, {"truth_building_anomaly": ...}) chunks of buildings."""
    p = (params or load_params())["buildings"]
    n = buildings.num_rows
    first, end = reading_window(window_start, as_of)
    if n == 0 or end <= first:
        return
    hours = hour_index(first, end, p)
    model = _CityModel(hours, p, rng)
    ids = buildings.column("building_id").to_numpy().astype(np.int32)
    use_names = buildings.column("building_use").to_pylist()
    use = np.array([USES.index(u) if u in USES else USES.index("office")   # uses without a schedule
                    for u in use_names])                                   # read like offices
    floor = buildings.column("floor_area_m2").to_numpy().astype(np.float64)
    built = buildings.column("built_year").to_numpy().astype(np.float64)
    seed = int(rng.integers(2**62))          # drawn first: the healthy readings do not depend on the faults
    planted = _plan_anomalies(n, hours, p, rng)
    chunk = max(1, int(p["chunk_buildings"]))
    for c0 in range(0, n, chunk):
        sl = slice(c0, min(n, c0 + chunk))
        faults = [(b - c0, kind, s, e) for b, kind, s, e in planted if sl.start <= b < sl.stop]
        values = model.values(use[sl], floor[sl], built[sl], faults, np.random.default_rng([seed, c0]),
                              np.random.default_rng([seed, c0, 1]))
        table = _reading_table(ids[sl], hours, values)
        truth = pa.table({
            "building_id": pa.array([ids[c0 + b] for b, *_ in faults], pa.int32()),
            "anomaly": pa.array([kind for _, kind, *_ in faults], pa.string()),
            "start": pa.array([int(hours.utc_us[s]) for *_, s, _ in faults], pa.int64()).cast(_TS),
            "end": pa.array([int(hours.utc_us[e - 1]) + HOUR_US for *_, e in faults], pa.int64()).cast(_TS),
        }, schema=TRUTH_SCHEMA)
        yield {"building_reading": table}, {"truth_building_anomaly": truth}


class _CityModel:
    """What every building shares: weather, and per-use occupancy-driven shapes over the hours."""

    def __init__(self, hours: Hours, p: dict[str, Any], rng: np.random.Generator) -> None:
        self.hours, self.p = hours, p
        self.outdoor, season, self.vapour_out = outdoor_weather(hours, p, rng)
        occ = occupancy(hours, p)
        occ_lag = np.stack([smooth(o, 1.0) for o in occ])          # CO2 and heat build up in ~1 h
        inertia = smooth(self.outdoor, float(p["building_inertia_hours"]))
        degree_hours = np.maximum(float(p["heating_base_c"]) - inertia, 0.0)
        heating_on = np.clip(degree_hours / 5.0, 0.0, 1.0)
        mean_occ = np.maximum(occ.mean(axis=1, keepdims=True), 1e-6)
        base = float(p["base_load_share"])
        # per use (uses, hours): heating demand with ventilation running when occupied, the
        # electricity profile (annual mean 1), CO2 and indoor-temperature shapes
        self.heat = degree_hours * (0.85 + 0.3 * occ)
        self.electricity = base + (1 - base) * occ / mean_occ
        self.co2 = occ_lag
        self.warmth = (float(p["occupied_warming_c"]) * occ_lag
                       - float(p["night_setback_c"]) * (1 - occ_lag) * heating_on
                       + float(p["passive_warming"]) * np.maximum(inertia - 15.0, 0.0))
        self.moisture = 1 - (1 - float(p["moisture_summer_factor"])) * season
        spec = default_registry().table("building_reading")
        self.ranges = [(spec.column(c).min, spec.column(c).max) for c in _VALUES]
        years = p["heating_kwh_m2_year"]
        self.age_years = np.array(sorted(years), dtype=np.float64)
        self.age_kwh = np.array([years[y] for y in sorted(years)], dtype=np.float64)
        self.use_el = np.array([p["uses"][u]["electricity_kwh_m2_year"] for u in USES], dtype=np.float64)
        self.use_co2 = np.array([p["uses"][u]["co2_rise_ppm"] for u in USES], dtype=np.float64)

    def values(self, use: np.ndarray, floor: np.ndarray, built: np.ndarray, faults: list[Anomaly],
               rng: np.random.Generator, fault_rng: np.random.Generator) -> list[np.ndarray]:
        """(buildings, hours) arrays of energy, temperature, CO2 and humidity (NaN = missing).

        ``rng`` draws the healthy readings, ``fault_rng`` the faults and dropouts, so the same
        buildings read the same with or without planted faults.
        """
        p, hrs = self.p, self.hours
        nb, nh = len(use), hrs.n
        # energy: heating ∝ floor area × degree hours / age efficiency, plus electricity
        intensity = np.interp(built, self.age_years, self.age_kwh) * rng.lognormal(0, p["heating_spread"], nb)
        hot_water = float(p["hot_water_share"])
        per_degree_hour = floor * intensity * (1 - hot_water) / (float(p["normal_degree_days"]) * 24)
        energy = per_degree_hour[:, None] * self.heat[use]
        energy += (floor * intensity * hot_water / 8760)[:, None]
        energy += (floor * self.use_el[use] * rng.lognormal(0, 0.15, nb) / 8760)[:, None] * self.electricity[use]
        energy *= np.exp(float(p["energy_noise"]) * rng.standard_normal((nb, nh), dtype=np.float32))

        # indoor temperature: setpoint + occupancy/heat + day-to-day drift + sensor noise
        mean_sp, sd_sp = p["indoor_setpoint_c"]
        day_noise = rng.standard_normal((nb, hrs.n_days), dtype=np.float32)
        daily = day_noise[:, hrs.day]
        temp = rng.normal(mean_sp, sd_sp, nb)[:, None] + self.warmth[use] + 0.3 * daily
        temp += 0.15 * rng.standard_normal((nb, nh), dtype=np.float32)

        # CO2: outdoor air + rise while occupied (the day's crowd varies by ±10 %)
        lo, hi = self.use_co2[use].T
        rise = rng.uniform(lo, hi)
        co2 = float(p["co2_outdoor_ppm"]) + rise[:, None] * self.co2[use] * (1 + 0.1 * daily)
        co2 += 12.0 * rng.standard_normal((nb, nh), dtype=np.float32)

        # humidity: outdoor vapour + moisture from the building and its people, at indoor temperature
        m_const, m_people = p["moisture_hpa"]
        vapour = self.vapour_out + self.moisture * (m_const + m_people * self.co2[use])
        humidity = 100.0 * vapour / vapour_pressure_hpa(temp)
        humidity += rng.standard_normal((nb, nh), dtype=np.float32)

        out = [energy, temp, co2, humidity]
        self._plant(out, faults, use, rise, fault_rng)
        # sensor dropouts: a few single values missing at random
        for arr in out:
            k = fault_rng.binomial(arr.size, float(p["dropout_rate"]))
            arr.reshape(-1)[fault_rng.integers(0, arr.size, k)] = np.nan
        for arr, (vmin, vmax), decimals in zip(out, self.ranges, _DECIMALS, strict=True):
            np.clip(arr, vmin, vmax, out=arr)
            np.round(arr, decimals, out=arr)
        return out

    def _plant(self, out: list[np.ndarray], faults: list[Anomaly], use: np.ndarray, rise: np.ndarray,
               rng: np.random.Generator) -> None:
        energy, temp, co2, humidity = out
        for b, kind, s, e in faults:
            w = slice(s, e)
            if kind == "ventilation_failure":
                build_up = rise[b] * 2.5 * smooth(self.co2[use[b], w], 6.0)
                co2[b, w] = np.maximum(1560.0 + build_up + 40 * np.abs(rng.standard_normal(e - s)),
                                       _VENTILATION_FLOOR_PPM)
                humidity[b, w] += 6.0
                temp[b, w] += 0.8
            elif kind == "heating_fault":
                energy[b, w] *= float(self.p["heating_fault_factor"])
                temp[b, w] += 0.7
            elif kind == "summer_overheating":
                temp[b, w] += 5.5 + 0.4 * np.maximum(self.outdoor[w] - 15.0, 0.0)
            elif kind == "stuck_sensor":
                for arr in (temp, co2, humidity):
                    arr[b, w] = arr[b, s]
            elif kind == "data_gap":
                for arr in out:
                    arr[b, w] = np.nan


def _plan_anomalies(n: int, hours: Hours, p: dict[str, Any], rng: np.random.Generator) -> list[Anomaly]:
    """Pick the faulty buildings, a fault type each (types in turn) and the fault windows."""
    k = min(n, max(1, round(float(p["anomaly_share"]) * n))) if p["anomaly_share"] > 0 else 0
    chosen = np.sort(rng.choice(n, size=k, replace=False))
    kinds = np.resize(rng.permutation(len(ANOMALIES)), k)
    planted: list[Anomaly] = []
    for b, kind_index in zip(chosen, kinds, strict=True):
        kind = ANOMALIES[int(kind_index)]
        if kind == "data_gap":
            gaps = int(rng.integers(p["data_gaps"][0], p["data_gaps"][1] + 1))
            edges = np.linspace(0, hours.n_days, gaps + 1).astype(np.int64)
            windows = [_window(hours, p["data_gap_days"], None, int(edges[g]), int(edges[g + 1]), rng)
                       for g in range(gaps)]  # one outage in each part of the year: they never overlap
        else:
            windows = [_window(hours, p[f"{kind}_days"], _SEASON_MONTHS.get(kind), 0, hours.n_days, rng)]
        planted += [(int(b), kind, s, e) for s, e in windows if e > s]
    return planted


def _window(hours: Hours, days: list[int], months: tuple[int, ...] | None, lo: int, hi: int,
            rng: np.random.Generator) -> tuple[int, int]:
    """Hours [first, end) of a run of whole local days within days [lo, hi), starting in ``months``."""
    length = min(int(rng.integers(days[0], days[1] + 1)), hi - lo)
    candidates = np.arange(lo, hi - length + 1)
    if months is not None:
        in_season = candidates[np.isin(hours.day_month[candidates], months)]
        candidates = in_season if in_season.size else candidates
    first = int(candidates[rng.integers(candidates.size)])
    return int(hours.day_start[first]), int(hours.day_start[first + length])


def _reading_table(ids: np.ndarray, hours: Hours, values: list[np.ndarray]) -> pa.Table:
    nb = len(ids)
    arrays: list[pa.Array] = [
        pa.array(np.repeat(ids, hours.n), pa.int32()),
        pa.array(np.tile(hours.utc_us, nb), pa.int64()).cast(_TS),
    ]
    for arr in values:
        flat = arr.reshape(-1)
        missing = np.isnan(flat)
        arrays.append(pa.array(flat, pa.float64(), mask=missing if missing.any() else None))
    return pa.Table.from_arrays(arrays, schema=READING_SCHEMA)
