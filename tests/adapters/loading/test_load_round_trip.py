"""A synthetic city exported as CSV or Parquet loads back identically, with nothing rejected."""

from __future__ import annotations

from pathlib import Path

import pytest

from ennakoiva.adapters.engine import DuckDBEngine
from ennakoiva.adapters.loading import load_folder
from ennakoiva.domain.ports import ExportFormat
from ennakoiva.platform.synthesis import synthesise_city


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("round_trip")
    synthesise_city(root / "city.duckdb", root / "truth.duckdb", residents=2_000, seed=11)
    return root / "city.duckdb"


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_an_exported_city_loads_back_identically(city: Path, tmp_path: Path, fmt: ExportFormat) -> None:
    with DuckDBEngine(city, read_only=True) as original:
        exported = [name for name, _ in original.export(tmp_path, fmt)]
        expected = {s.name: (s.rows, s.fingerprint) for s in original.stats()}
    with DuckDBEngine(":memory:") as engine:
        engine.create_tables(replace=False)
        report = load_folder(engine, tmp_path)
        assert [f.table for f in report.files] == exported
        assert (report.rejected, report.problems, report.ok) == (0, 0, True)
        assert report.loaded == report.read == sum(rows for rows, _ in expected.values())
        assert {s.name: (s.rows, s.fingerprint) for s in engine.stats()} == expected
