"""Parquet input: typed columns are cast with the same rules, rows are numbered from 1."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from loading_support import Loaded, Sample, engine_fixture, load_files_fixture, sample_fixture, source_fixture  # noqa: F401 - pytest fixtures

from ennakoiva.adapters.engine import DuckDBEngine

Load = Callable[..., Loaded]


def _people(ids: list[int], sexes: list[str], birth: pa.Array | None = None) -> pa.Table:
    n = len(ids)
    return pa.table({
        "person_id": pa.array(ids, pa.int64()),
        "birth_date": birth if birth is not None else pa.array([date(1980, 1, 31)] * n, pa.date32()),
        "sex": sexes, "mother_tongue": ["fi"] * n, "municipality_code": ["091"] * n,
        "district_code": ["101"] * n, "postal_code": ["00100"] * n, "household_id": pa.array([1] * n, pa.int32()),
        "moved_in_date": pa.nulls(n, pa.date32()), "death_date": pa.nulls(n, pa.date32()),
        "move_out_date": pa.nulls(n, pa.date32())})


def _write(table: pa.Table, path: Path) -> bytes:
    pq.write_table(table, path)
    return path.read_bytes()


def test_parquet_rows_are_checked_like_csv_rows(load_files: Load, sample: Sample, engine: DuckDBEngine,
                                                tmp_path: Path) -> None:
    people = _write(_people([10, 11, 12], ["F", "X", "M"]), tmp_path / "p.parquet")
    loaded = load_files({"household.csv": sample.households_csv(1), "person.parquet": people})
    assert loaded.problems("person.parquet") == [("2", "sex", "X", "not a valid sex code: expected one of F, M")]
    assert json.loads(loaded.rejects_of("person.parquet")[0]["raw"])["birth_date"] == "1980-01-31"
    assert engine.sql("SELECT person_id FROM person ORDER BY 1").column(0).to_pylist() == [10, 12]


def test_parquet_text_and_float_columns_are_cast_with_the_csv_rules(load_files: Load, tmp_path: Path,
                                                                    engine: DuckDBEngine) -> None:
    households = pa.table({"household_id": pa.array([1.0, 2.5, 3.0]),
                           "household_type": ["couple", "couple", "couple"],
                           "postal_code": pa.array([100, 100, 100], pa.int64()),  # lost its leading zeros
                           "district_code": ["101", "101", "101"],
                           "floor_area_m2": ["55.5", "60,5", ""]})
    loaded = load_files({"household.parquet": _write(households, tmp_path / "h.parquet")})
    assert loaded.problems("household.parquet") == [
        ("1", "postal_code", "100", "not a valid postal_code code: expected a code matching ^[0-9]{5}$"),
        ("2", "household_id", "2.5", "not a whole number"),
        ("2", "postal_code", "100", "not a valid postal_code code: expected a code matching ^[0-9]{5}$"),
        ("2", "floor_area_m2", "60,5", "decimal comma: write numbers with a decimal point (e.g. 135.0, not 135,0)"),
        ("3", "postal_code", "100", "not a valid postal_code code: expected a code matching ^[0-9]{5}$"),
    ]
    assert engine.sql("SELECT count(*) FROM household").column(0).to_pylist() == [0]


def test_parquet_timestamps_need_a_time_zone(load_files: Load, tmp_path: Path, engine: DuckDBEngine) -> None:
    buildings = pa.table({"building_id": pa.array([1], pa.int32()), "district_code": ["101"],
                          "postal_code": ["00100"], "building_use": ["school"], "floor_area_m2": [2500.0],
                          "built_year": pa.array([1965], pa.int16())})
    at = datetime(2024, 1, 31, 6, tzinfo=UTC)
    readings = pa.table({"building_id": [1], "reading_at": pa.array([at], pa.timestamp("ns", tz="UTC")),
                         "energy_kwh": [1.5], "temperature_c": [21.0], "co2_ppm": [600.0], "humidity_pct": [30.0]})
    naive = readings.set_column(1, "reading_at", pa.array([at.replace(tzinfo=None)], pa.timestamp("us")))
    loaded = load_files({"building.parquet": _write(buildings, tmp_path / "b.parquet"),
                         "building_reading.parquet": _write(readings, tmp_path / "r.parquet")})
    assert loaded.report.rejected == 0
    assert engine.sql("SELECT reading_at FROM building_reading").column(0).to_pylist() == [at]
    (tmp_path / "source" / "building_reading.parquet").write_bytes(_write(naive, tmp_path / "n.parquet"))
    loaded = load_files({})
    assert loaded.file("building_reading.parquet").error == (
        "building_reading.parquet: column reading_at is stored as timestamp[us], which cannot hold "
        "TIMESTAMPTZ values; store them as UTC-adjusted timestamps (with a time zone)")


def test_an_unreadable_parquet_file_is_rejected_and_the_rest_loads(load_files: Load, sample: Sample) -> None:
    loaded = load_files({"household.csv": sample.households_csv(1, 2), "person.parquet": b"PAR1 not really"})
    entry = loaded.file("person.parquet")
    assert entry.error is not None and entry.error.startswith("person.parquet: not a readable Parquet file")
    assert loaded.file("household.csv").loaded == 2


def test_format_chooses_between_csv_and_parquet(load_files: Load, sample: Sample, tmp_path: Path) -> None:
    people = _write(_people([10], ["F"]), tmp_path / "p.parquet")
    loaded = load_files({"household.csv": sample.households_csv(1), "person.parquet": people}, fmt="csv")
    assert [f.file for f in loaded.report.files] == ["household.csv"]
    assert "person.parquet: not csv (the format asked for)" in loaded.report.skipped
