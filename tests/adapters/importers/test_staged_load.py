"""``load_staged``, the loader's hook for importers: source provenance, relabelling and excluded rows."""

from __future__ import annotations

from pathlib import Path

import pytest
from importer_support import assert_accounted, engine_fixture, read_rejects  # noqa: F401

from ennakoiva.adapters.engine import DuckDBEngine
from ennakoiva.adapters.loading import Rejection, StagedRows, load_staged


def household(ids: list[str], postal: list[str]) -> dict[str, list[str | None]]:
    return {"household_id": list(ids), "household_type": ["couple"] * len(ids), "postal_code": list(postal),
            "district_code": ["101"] * len(ids), "floor_area_m2": [None] * len(ids)}


def test_rows_are_checked_by_the_loader_and_rejects_point_at_the_source(engine: DuckDBEngine, tmp_path: Path) -> None:
    raws = ["h1 raw", "h2 raw", "h3 raw"]
    batch = StagedRows(
        table="household", file="homes.txt", columns=household(["1", "2", "1"], ["00100", "0010", "00100"]),
        positions=[3, 5, 9], raw=lambda rows: [raws[i] for i in rows], sources={"postal_code": "ZIP"},
        shown={"postal_code": ["00100", "zip 0010", "00100"]},
        rejected=[Rejection(4, "KIND", "x", "no mapping for x", "h4 raw"),
                  Rejection(7, "KIND", "y", "not imported: y is out of scope", "h7 raw", excluded=True)])
    rejects = tmp_path / "rejects.csv"
    report = load_staged(engine, [batch], source=tmp_path, rejects_path=rejects, source_format="test")
    found = read_rejects(rejects)
    assert_accounted(report, found)
    entry = report.files[0]
    assert (entry.read, entry.loaded, entry.rejected, entry.excluded) == (5, 1, 4, 1)  # type: ignore[attr-defined]
    assert [(r["line"], r["column"], r["value"], r["raw"]) for r in found] == [
        ("4", "KIND", "x", "h4 raw"), ("5", "ZIP", "zip 0010", "h2 raw"), ("7", "KIND", "y", "h7 raw"),
        ("9", "household_id", "1", "h3 raw")]
    assert found[3]["reason"] == "duplicate primary key (household_id): the same key as line 3"
    assert report.rejected_share == pytest.approx(3 / 4)  # the excluded row is out of scope
    assert report.as_dict()["excluded"] == 1 and report.as_dict()["format"] == "test"


def test_unknown_tables_and_short_columns_are_programming_errors(engine: DuckDBEngine, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown table"):
        load_staged(engine, [StagedRows(table="nope", file="f")], source=tmp_path, rejects_path=tmp_path / "r.csv")
    short = StagedRows(table="household", file="f", columns=household(["1"], ["00100"]), positions=[2, 3])
    with pytest.raises(ValueError, match="every column with 2 values"):
        load_staged(engine, [short], source=tmp_path, rejects_path=tmp_path / "r.csv")
