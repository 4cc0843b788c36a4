"""The DuckDB engine: registry tables, casting, idempotent upserts, stats and export."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest

from ennakoiva.adapters.engine import DuckDBEngine
from ennakoiva.domain.consent.decision import Decision


def buildings(ids: list[int], area: float = 100.0) -> pa.Table:
    n = len(ids)
    return pa.table({"building_id": ids, "district_code": ["101"] * n, "postal_code": ["00100"] * n,
                     "building_use": ["school"] * n, "floor_area_m2": [area] * n, "built_year": [1990] * n})


def test_create_tables_from_registry_and_upsert_is_idempotent(tmp_path: Path) -> None:
    with DuckDBEngine(tmp_path / "x.duckdb") as engine:
        engine.create_tables(replace=False)
        assert "person" in engine.table_names()
        assert engine.upsert("building", buildings([1, 2])) == (0, 2)
        assert engine.upsert("building", buildings([2, 3], area=250.0)) == (1, 1)
        rows = {r["building_id"]: r["floor_area_m2"] for r in engine.read("building").to_pylist()}
        assert rows == {1: 100.0, 2: 250.0, 3: 250.0}


def test_append_rejects_rows_breaking_not_null() -> None:
    with DuckDBEngine(":memory:") as engine:
        engine.create_tables(replace=False)
        bad = buildings([1]).set_column(1, "district_code", pa.array([None], pa.string()))
        with pytest.raises(Exception, match=r"(?i)not null|null"):
            engine.append("building", bad)


def test_stats_report_rows_dates_and_order_independent_fingerprint() -> None:
    with DuckDBEngine(":memory:") as a, DuckDBEngine(":memory:") as b:
        for e in (a, b):
            e.create_tables(replace=False)
        a.append("building", buildings([1, 2, 3]))
        b.append("building", buildings([3, 1, 2]))
        sa = {s.name: s for s in a.stats()}
        sb = {s.name: s for s in b.stats()}
        assert sa["building"].rows == 3
        assert sa["building"].fingerprint == sb["building"].fingerprint
        assert sa["person"].rows == 0
        a.append("building", buildings([4]))
        assert {s.name: s for s in a.stats()}["building"].fingerprint != sb["building"].fingerprint


def test_stats_date_range_spans_all_date_columns() -> None:
    with DuckDBEngine(":memory:") as e:
        e.create_tables(replace=False)
        e.append("jobseeker_spell", pa.table({
            "spell_id": [1, 2], "person_id": [10, 11], "start_date": [date(2024, 1, 1), date(2025, 5, 1)],
            "end_date": [date(2026, 2, 1), None], "outcome": ["employed", "ongoing"]}))
        s = {x.name: x for x in e.stats()}["jobseeker_spell"]
        assert (s.first_date, s.last_date) == (date(2024, 1, 1), date(2026, 2, 1))


def test_export_writes_every_table(tmp_path: Path) -> None:
    with DuckDBEngine(tmp_path / "x.duckdb") as e:
        e.create_tables(replace=False)
        e.append("building", buildings([2, 1]))
        files = dict(e.export(tmp_path / "out", "csv"))
    assert set(files) >= {"building", "person"}
    lines = files["building"].read_text("utf-8").splitlines()
    assert lines[0].startswith("building_id,")
    assert [line.split(",")[0] for line in lines[1:]] == ["1", "2"]  # ordered by primary key


def test_read_only_on_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no database"):
        DuckDBEngine(tmp_path / "missing.duckdb", read_only=True)


def _decision(subject: int, categories: tuple[str, ...], permit: bool = True) -> Decision:
    return Decision(permit=permit, reason="test", purpose_id="resident-own-data", subject_id=subject,
                    categories=categories)


def test_personal_reads_need_a_permit_for_that_subject_and_category(small_city) -> None:  # type: ignore[no-untyped-def]
    with DuckDBEngine(small_city.db, read_only=True) as engine:
        subject = engine.sql("SELECT person_id FROM diagnosis LIMIT 1").column(0)[0].as_py()
        rows = engine.read_subject("diagnosis", subject, _decision(subject, ("health",)))
        assert rows.num_rows > 0
        assert set(rows.column("person_id").to_pylist()) == {subject}
        with pytest.raises(PermissionError, match="permitting"):
            engine.read_subject("diagnosis", subject, _decision(subject, ("health",), permit=False))
        with pytest.raises(PermissionError, match="another subject"):
            engine.read_subject("diagnosis", subject, _decision(subject + 1, ("health",)))
        with pytest.raises(PermissionError, match="health"):
            engine.read_subject("diagnosis", subject, _decision(subject, ("income",)))
        with pytest.raises(PermissionError):
            engine.read_subject("diagnosis", subject, None)  # type: ignore[arg-type]
        household = engine.read_subject("household", subject, _decision(subject, ("population",)))
        assert household.num_rows == 1
