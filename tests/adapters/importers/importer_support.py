"""Helpers shared by the importer tests: an empty database, the fixtures, and the accounting check.

Not a conftest.py: ``--doctest-modules`` imports every conftest.py as the module ``conftest``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ennakoiva.adapters.engine import DuckDBEngine
from ennakoiva.adapters.loading import StagedLoadReport

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
SYNTHEA = FIXTURES / "synthea"
FHIR = FIXTURES / "fhir"


def read_rejects(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def assert_accounted(report: StagedLoadReport, rejects: list[dict[str, str]]) -> None:
    """read = loaded + rejected for every source file and table, and the rejects file lists them all."""
    assert report.read == report.loaded + report.rejected
    assert report.problems == len(rejects)
    by_file: dict[str, int] = {}
    for entry in report.files:
        assert entry.read == entry.loaded + entry.rejected, entry
        assert 0 <= getattr(entry, "excluded", 0) <= entry.rejected
        by_file[entry.file] = by_file.get(entry.file, 0) + entry.problems
        if entry.error is not None:
            assert entry.loaded == 0
    for file, problems in by_file.items():
        assert len([r for r in rejects if r["file"] == file]) == problems, file


def table(engine: DuckDBEngine, name: str, where: str = "") -> list[dict[str, Any]]:
    """A table's rows as dicts in primary-key order (optionally filtered by a SQL condition)."""
    key = ", ".join(engine.registry.table(name).primary_key)
    return engine.sql(f"SELECT * FROM {name} {'WHERE ' + where if where else ''} ORDER BY {key}").to_pylist()


def count(engine: DuckDBEngine, sql: str) -> Any:
    return engine.sql(sql).column(0)[0].as_py()


@pytest.fixture(name="engine")
def engine_fixture() -> Iterator[DuckDBEngine]:
    """An empty in-memory database with every registry table."""
    with DuckDBEngine(":memory:") as db:
        db.create_tables(replace=False)
        yield db
