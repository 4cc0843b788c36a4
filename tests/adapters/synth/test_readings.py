"""Hourly building readings: one row per building-hour in local time, realistic shapes, planted faults."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from ennakoiva.adapters.engine import arrow_schema
from ennakoiva.adapters.synth import frame
from ennakoiva.adapters.synth.calibration import load_calibration, load_params, window_start_for
from ennakoiva.adapters.synth.city import DEFAULT_AS_OF
from ennakoiva.adapters.synth.readings import TRUTH_SCHEMA, generate_readings, reading_window
from ennakoiva.adapters.synth.services import generate_city
from ennakoiva.domain.registry import default_registry

HELSINKI = ZoneInfo("Europe/Helsinki")
AS_OF = date(2026, 11, 1)
VALUES = ("energy_kwh", "temperature_c", "co2_ppm", "humidity_pct")


def _buildings() -> pa.Table:
    cal = load_calibration()
    residents = cal.inhabitants.astype(np.float64) * 20_000 / cal.inhabitants.sum()
    _, tables = generate_city(cal, np.round(residents), load_params(), np.random.default_rng(3))
    return tables["building"]


def _generate(buildings: pa.Table, seed: int = 7, as_of: date = AS_OF,
              params: dict[str, Any] | None = None) -> tuple[pa.Table, pa.Table]:
    window_start = frame.day(window_start_for(DEFAULT_AS_OF, load_params()))
    data, truth = [], []
    for tables, truth_tables in generate_readings(buildings, window_start, frame.day(as_of),
                                                  np.random.default_rng(seed), params):
        data.append(tables["building_reading"])
        truth.append(truth_tables["truth_building_anomaly"])
    return pa.concat_tables(data), pa.concat_tables(truth)


def _with(**changes: Any) -> dict[str, Any]:
    params = copy.deepcopy(load_params())
    params["buildings"].update(changes)
    return params


@pytest.fixture(scope="module")
def buildings() -> pa.Table:
    return _buildings()


@pytest.fixture(scope="module")
def city(buildings: pa.Table) -> tuple[pa.Table, pa.Table]:
    return _generate(buildings)


def _hours(start: date, end: date) -> int:
    def midnight(d: date) -> datetime:
        return datetime(d.year, d.month, d.day, tzinfo=HELSINKI)
    return int((midnight(end) - midnight(start)).total_seconds() // 3600)


def _matrix(table: pa.Table, column: str, n_hours: int) -> np.ndarray:
    """(buildings, hours) values with NaN for nulls (rows come building by building, hour by hour)."""
    return table[column].to_numpy(zero_copy_only=False).astype(np.float64).reshape(-1, n_hours)


def _local(table: pa.Table, n_hours: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Local hour, weekday and month of each hour of the first building (independently of the code)."""
    secs = pc.cast(table["reading_at"].slice(0, n_hours), pa.int64()).to_numpy() // 1_000_000
    local = [datetime.fromtimestamp(int(s), UTC).astimezone(HELSINKI) for s in secs]
    return (np.array([t.hour for t in local]), np.array([t.weekday() for t in local]),
            np.array([t.month for t in local]))


def test_schema_matches_registry(city: tuple[pa.Table, pa.Table]) -> None:
    data, truth = city
    assert data.schema == arrow_schema(default_registry().table("building_reading"))
    assert truth.schema == TRUTH_SCHEMA
    assert truth.column_names == ["building_id", "anomaly", "start", "end"]


def test_one_row_per_building_hour_of_the_year_before_as_of(buildings: pa.Table,
                                                            city: tuple[pa.Table, pa.Table]) -> None:
    data, _ = city
    n_hours = _hours(date(2025, 11, 1), AS_OF)
    assert n_hours == 8760
    assert data.num_rows == buildings.num_rows * n_hours
    secs = pc.cast(data["reading_at"], pa.int64()).to_numpy() // 1_000_000
    assert (secs % 3600 == 0).all()
    keys = data["building_id"].to_numpy().astype(np.int64) * 10**11 + secs
    assert len(np.unique(keys)) == data.num_rows
    assert set(data["building_id"].to_pylist()) == set(buildings["building_id"].to_pylist())
    first = datetime.fromtimestamp(int(secs.min()), UTC).astimezone(HELSINKI)
    last = datetime.fromtimestamp(int(secs.max()), UTC).astimezone(HELSINKI)
    assert (first.date(), first.hour) == (date(2025, 11, 1), 0)
    assert (last.date(), last.hour) == (date(2026, 10, 31), 23)


def test_a_leap_year_window_has_8784_hours(buildings: pa.Table) -> None:
    data, _ = _generate(buildings.slice(0, 2), as_of=date(2024, 11, 1))
    assert _hours(date(2023, 11, 1), date(2024, 11, 1)) == 8784
    assert data.num_rows == 2 * 8784


def test_window_is_the_year_before_as_of_but_not_before_the_register_window() -> None:
    assert reading_window(frame.day(date(2022, 11, 1)), frame.day(AS_OF)) == (
        frame.day(date(2025, 11, 1)), frame.day(AS_OF))
    assert reading_window(frame.day(date(2022, 11, 1)), frame.day(date(2023, 3, 1))) == (
        frame.day(date(2022, 11, 1)), frame.day(date(2023, 3, 1)))
    assert reading_window(0, frame.day(date(2028, 2, 29)))[0] == frame.day(date(2027, 2, 28))


def test_values_within_registry_ranges(city: tuple[pa.Table, pa.Table]) -> None:
    data, _ = city
    spec = default_registry().table("building_reading")
    for name in VALUES:
        col = spec.column(name)
        bounds = pc.min_max(data[name]).as_py()
        assert col.min is None or bounds["min"] >= col.min, name
        assert col.max is None or bounds["max"] <= col.max, name
        assert data[name].null_count < 0.02 * data.num_rows, name


def test_school_co2_follows_local_opening_hours_across_dst(buildings: pa.Table,
                                                           city: tuple[pa.Table, pa.Table]) -> None:
    data, truth = city
    n_hours = 8760
    hour, weekday, month = _local(data, n_hours)
    faulty = set(truth["building_id"].to_pylist())
    ids = data["building_id"].to_numpy()[::n_hours]
    use = dict(zip(buildings["building_id"].to_pylist(), buildings["building_use"].to_pylist(), strict=True))
    schools = np.array([use[i] == "school" and i not in faulty for i in ids])
    assert schools.any()
    co2 = _matrix(data, "co2_ppm", n_hours)[schools]

    def mean_at(h: int, months: tuple[int, ...]) -> float:
        return float(np.nanmean(co2[:, (hour == h) & (weekday < 5) & np.isin(month, months)]))

    assert mean_at(10, (1, 2, 3, 4, 5, 9, 10, 11, 12)) > mean_at(3, (1, 2, 3, 4, 5, 9, 10, 11, 12)) + 200
    # schools open at 7 local time in winter (UTC+2) and in summer time (UTC+3) alike
    for months in ((1, 2), (4, 5)):
        assert mean_at(6, months) < 440
        assert mean_at(8, months) > 500
    assert mean_at(10, (7,)) < 440         # summer holiday
    peak = np.nanpercentile(co2[:, (weekday < 5) & (hour >= 8) & (hour < 15)], 95)
    assert 600 < peak < 1100


def test_heating_makes_winter_energy_higher_than_summer(city: tuple[pa.Table, pa.Table]) -> None:
    data, _ = city
    _, _, month = _local(data, 8760)
    energy = _matrix(data, "energy_kwh", 8760)
    winter = np.nanmean(energy[:, np.isin(month, (1, 2))], axis=1)
    summer = np.nanmean(energy[:, month == 7], axis=1)
    assert (winter > 1.5 * summer).all()
    humidity = _matrix(data, "humidity_pct", 8760)
    assert 15 < np.nanmean(humidity[:, np.isin(month, (1, 2))]) < 32
    assert 40 < np.nanmean(humidity[:, month == 7]) < 62
    temp = _matrix(data, "temperature_c", 8760)
    assert 20.5 < np.nanmedian(temp) < 22.5


def test_about_five_percent_of_buildings_get_a_planted_fault(buildings: pa.Table,
                                                               city: tuple[pa.Table, pa.Table]) -> None:
    _, truth = city
    faulty = set(truth["building_id"].to_pylist())
    assert len(faulty) == max(1, round(0.05 * buildings.num_rows))
    assert (pc.cast(truth["end"], pa.int64()).to_numpy() > pc.cast(truth["start"], pa.int64()).to_numpy()).all()


def test_planted_faults_are_visible_in_the_readings(buildings: pa.Table) -> None:
    healthy, no_truth = _generate(buildings, params=_with(anomaly_share=0.0, dropout_rate=0.0))
    faulty, truth = _generate(buildings, params=_with(anomaly_share=1.0, dropout_rate=0.0))
    assert no_truth.num_rows == 0
    assert set(truth["anomaly"].to_pylist()) == {
        "ventilation_failure", "stuck_sensor", "data_gap", "heating_fault", "summer_overheating"}
    n_hours = 8760
    secs = pc.cast(faulty["reading_at"].slice(0, n_hours), pa.int64()).to_numpy()
    row_of = {b: i for i, b in enumerate(faulty["building_id"].to_numpy()[::n_hours])}
    _, _, month = _local(faulty, n_hours)
    after = {c: _matrix(faulty, c, n_hours) for c in VALUES}
    before = {c: _matrix(healthy, c, n_hours) for c in VALUES}
    for fault in truth.to_pylist():
        start, end = (int(fault[k].timestamp()) * 1_000_000 for k in ("start", "end"))
        w = (secs >= start) & (secs < end)
        b = row_of[fault["building_id"]]
        assert w.sum() >= 24
        kind = fault["anomaly"]
        if kind == "ventilation_failure":
            assert (after["co2_ppm"][b, w] > 1500).all()
        elif kind == "stuck_sensor":
            assert w.sum() in (167, 168, 169)   # a week of local days (DST may add or drop an hour)
            for c in ("temperature_c", "co2_ppm", "humidity_pct"):
                assert len(np.unique(after[c][b, w])) == 1
        elif kind == "data_gap":
            for c in VALUES:
                assert np.isnan(after[c][b, w]).all()
        elif kind == "heating_fault":
            ratio = np.nansum(after["energy_kwh"][b, w]) / np.nansum(before["energy_kwh"][b, w])
            assert ratio == pytest.approx(1.5, abs=0.01)
            assert np.isin(month[w][0], (11, 12, 1, 2, 3))
        elif kind == "summer_overheating":
            assert np.nanmean(after["temperature_c"][b, w]) > 26
            assert (after["temperature_c"][b, w] - before["temperature_c"][b, w] >= 5.4).all()
            assert np.isin(month[w][0], (6, 7, 8))
        outside = ~w
        for c in VALUES:   # the fault changes nothing outside its window
            if not any(f["building_id"] == fault["building_id"] and f is not fault for f in truth.to_pylist()):
                np.testing.assert_array_equal(after[c][b, outside], before[c][b, outside])


def test_same_seed_same_readings(buildings: pa.Table, city: tuple[pa.Table, pa.Table]) -> None:
    data, truth = city
    again, truth_again = _generate(buildings)
    assert again.equals(data)
    assert truth_again.equals(truth)
    other, _ = _generate(buildings.slice(0, 3), seed=8)
    assert not other["co2_ppm"].equals(data.slice(0, other.num_rows)["co2_ppm"])
