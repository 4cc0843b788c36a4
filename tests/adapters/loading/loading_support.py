"""Helpers shared by the loader tests: sample rows, fixtures, and a load that checks its accounting.

Not a conftest.py: ``--doctest-modules`` imports every conftest.py as the module ``conftest``, so a
second one would clash with ``tests/conftest.py``. Test modules import the fixtures from here.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ennakoiva.adapters.engine import DuckDBEngine
from ennakoiva.adapters.loading import FileReport, LoadReport, load_folder

PERSON_COLUMNS = ("person_id", "birth_date", "sex", "mother_tongue", "municipality_code", "district_code",
                  "postal_code", "household_id", "moved_in_date", "death_date", "move_out_date")
HOUSEHOLD_COLUMNS = ("household_id", "household_type", "postal_code", "district_code", "floor_area_m2")


class Sample:
    """Valid rows of household and person as CSV text, with any field overridden."""

    household_header = ",".join(HOUSEHOLD_COLUMNS)
    person_header = ",".join(PERSON_COLUMNS)

    def household(self, household_id: int | str, sep: str = ",", **fields: str) -> str:
        values = {"household_id": str(household_id), "household_type": "couple", "postal_code": "00100",
                  "district_code": "101", "floor_area_m2": "55.5", **fields}
        return sep.join(values[c] for c in HOUSEHOLD_COLUMNS)

    def person(self, person_id: int | str, household_id: int | str = 1, sep: str = ",", **fields: str) -> str:
        values = {"person_id": str(person_id), "birth_date": "1980-01-31", "sex": "F", "mother_tongue": "fi",
                  "municipality_code": "091", "district_code": "101", "postal_code": "00100",
                  "household_id": str(household_id), "moved_in_date": "", "death_date": "",
                  "move_out_date": "", **fields}
        return sep.join(values[c] for c in PERSON_COLUMNS)

    def households_csv(self, *ids: int) -> str:
        return "\n".join([self.household_header, *(self.household(i) for i in ids)]) + "\n"

    def people_csv(self, *lines: str) -> str:
        return "\n".join([self.person_header, *lines]) + "\n"


@dataclass
class Loaded:
    """A load's report and its rejects file as dicts."""

    report: LoadReport
    rejects: list[dict[str, str]]

    def file(self, name: str) -> FileReport:
        return next(f for f in self.report.files if f.file == name)

    def rejects_of(self, name: str) -> list[dict[str, str]]:
        return [r for r in self.rejects if r["file"] == name]

    def problems(self, name: str) -> list[tuple[str, str, str, str]]:
        """(line, column, value, reason) of every reject of one file."""
        return [(r["line"], r["column"], r["value"], r["reason"]) for r in self.rejects_of(name)]


def write_files(source: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        path = source / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def read_rejects(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def load_into(engine: DuckDBEngine, source: Path, files: dict[str, str | bytes], **options: Any) -> Loaded:
    """Write ``{name: text or bytes}`` into ``source``, load the folder and check the accounting."""
    write_files(source, files)
    report = load_folder(engine, source, **options)
    rejects = read_rejects(report.rejects_path)
    assert_nothing_lost(report, rejects)
    return Loaded(report, rejects)


def assert_nothing_lost(report: LoadReport, rejects: list[dict[str, str]]) -> None:
    """read = loaded + rejected for every file, and the rejects file lists exactly the rejected rows."""
    assert report.read == report.loaded + report.rejected
    assert report.problems == len(rejects)
    for entry in report.files:
        assert entry.read == entry.loaded + entry.rejected, entry
        mine = [r for r in rejects if r["file"] == entry.file]
        assert len(mine) == entry.problems
        if entry.error is None:
            assert len({r["line"] for r in mine}) == entry.rejected, (entry, mine)
        else:
            assert entry.loaded == 0 and len(mine) == 1 and mine[0]["reason"] == entry.error


@pytest.fixture(name="sample")
def sample_fixture() -> Sample:
    return Sample()


@pytest.fixture(name="engine")
def engine_fixture() -> Iterator[DuckDBEngine]:
    """An empty in-memory database with every registry table."""
    with DuckDBEngine(":memory:") as db:
        db.create_tables(replace=False)
        yield db


@pytest.fixture(name="source")
def source_fixture(tmp_path: Path) -> Path:
    folder = tmp_path / "source"
    folder.mkdir()
    return folder


@pytest.fixture(name="load_files")
def load_files_fixture(engine: DuckDBEngine, source: Path) -> Callable[..., Loaded]:
    """Write files into the source folder and load them into ``engine``, checking the accounting."""

    def run(files: dict[str, str | bytes], **options: Any) -> Loaded:
        return load_into(engine, source, files, **options)

    return run
