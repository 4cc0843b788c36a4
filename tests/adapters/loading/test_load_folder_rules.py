"""Which files a load takes, what it refuses before writing anything, and what the report says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from loading_support import Sample, engine_fixture, load_into, read_rejects, sample_fixture, source_fixture, write_files  # noqa: F401 - pytest fixtures

from ennakoiva.adapters.engine import DuckDBEngine
from ennakoiva.adapters.loading import REJECT_COLUMNS, LoadError, load_folder


def test_a_file_named_after_no_table_stops_the_load_before_anything_is_written(
        engine: DuckDBEngine, source: Path, sample: Sample) -> None:
    write_files(source, {"household.csv": sample.households_csv(1), "persons.csv": sample.people_csv()})
    with pytest.raises(LoadError, match=r"file\(s\) named after no registry table: persons.csv "
                                        r"\(did you mean person.csv\?\)"):
        load_folder(engine, source)
    assert engine.sql("SELECT count(*) FROM household").column(0).to_pylist() == [0]
    assert not (source / "rejects.csv").exists()


def test_other_files_are_listed_as_skipped(engine: DuckDBEngine, source: Path, sample: Sample) -> None:
    (source / "notes").mkdir()
    loaded = load_into(engine, source, {"household.csv": sample.households_csv(1), "README.txt": "hello",
                                        ".DS_Store": b"\0"})
    assert loaded.report.skipped == ["README.txt: not a .csv or .parquet file", "notes: a folder"]
    again = load_into(engine, source, {})  # the rejects file of the first run is not a table
    assert "rejects.csv: a rejects file" in again.report.skipped


@pytest.mark.parametrize(("files", "message"), [
    ({}, "no .csv or .parquet file named after a registry table"),
    ({"household.csv": "x", "household.parquet": b"x"}, "more than one file for the same table: "
                                                         "household.csv and household.parquet"),
])
def test_folders_that_cannot_be_loaded(engine: DuckDBEngine, source: Path, files: dict[str, str | bytes],
                                       message: str) -> None:
    write_files(source, files)
    with pytest.raises(LoadError, match=message):
        load_folder(engine, source)


def test_a_missing_folder_and_missing_tables(engine: DuckDBEngine, tmp_path: Path, sample: Sample) -> None:
    with pytest.raises(FileNotFoundError, match="no such folder"):
        load_folder(engine, tmp_path / "nope")
    write_files(tmp_path, {"household.csv": sample.households_csv(1)})
    missing = r"^the database has no table\(s\) household; create the tables first$"
    with DuckDBEngine(":memory:") as bare, pytest.raises(LoadError, match=missing):
        load_folder(bare, tmp_path)
    with pytest.raises(ValueError, match="between 0 and 1"):
        load_folder(engine, tmp_path, max_reject_share=2)
    with pytest.raises(LoadError, match="the rejects file would replace a table file"):
        load_folder(engine, tmp_path, rejects_path=tmp_path / "household.csv")
    assert (tmp_path / "household.csv").read_text("utf-8") == sample.households_csv(1)


def test_report_totals_threshold_progress_and_rejects_path(engine: DuckDBEngine, source: Path,
                                                           sample: Sample, tmp_path: Path) -> None:
    seen: list[tuple[str, int, int]] = []
    rejects = tmp_path / "out" / "bad.csv"
    write_files(source, {"household.csv": sample.households_csv(1),
                         "person.csv": sample.people_csv(*(sample.person(i) for i in range(10, 19)),
                                                         sample.person(19, sex="X"))})
    report = load_folder(engine, source, rejects_path=rejects, max_reject_share=0.1,
                         progress=lambda *args: seen.append(args))
    assert (report.read, report.loaded, report.rejected, report.rejected_share) == (11, 10, 1, 1 / 11)
    assert report.ok
    assert not load_folder(engine, source, rejects_path=rejects, max_reject_share=0.05).ok
    rows = read_rejects(rejects)
    assert tuple(rows[0]) == REJECT_COLUMNS and rows[0]["line"] == "11"
    assert seen[0][0] == "household.csv: reading" and seen[-1][0] == "person.csv: done"
    assert seen[-1][1] == seen[-1][2] == sum(p.stat().st_size for p in source.iterdir())
    summary = json.loads(json.dumps(report.as_dict()))
    assert summary["files"][1] | {"warnings": []} == {
        "table": "person", "file": "person.csv", "read": 10, "loaded": 9, "rejected": 1, "replaced": 0,
        "inserted": 9, "problems": 1, "error": None, "encoding": "utf-8", "delimiter": ",", "warnings": []}
    assert summary["ok"] is True and summary["rejects_path"] == str(rejects)
