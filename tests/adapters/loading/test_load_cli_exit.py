"""``ennakoiva load`` on the command line: accounting table, JSON, and exit statuses."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from loading_support import Sample, sample_fixture, source_fixture, write_files  # noqa: F401 - pytest fixtures
from typer.testing import CliRunner

from ennakoiva.adapters.engine import DuckDBEngine
from ennakoiva.interfaces.cli.load_command import load

app = typer.Typer(add_completion=False)
app.command("load")(load)


@app.callback()
def _group() -> None:
    """A group, so that the command is invoked by name as in the real app."""


def _folder(source: Path, sample: Sample, bad: int) -> None:
    people = [sample.person(i) for i in range(10, 20 - bad)] + [sample.person(i, sex="X") for i in range(90, 90 + bad)]
    write_files(source, {"household.csv": sample.households_csv(1), "person.csv": sample.people_csv(*people)})


def test_exit_status_follows_the_rejected_share(source: Path, sample: Sample, tmp_path: Path) -> None:
    db = tmp_path / "city.duckdb"
    _folder(source, sample, bad=1)  # 1 of 11 rows rejected: 9.1 %
    result = CliRunner().invoke(app, ["load", "--db", str(db), str(source)])
    assert result.exit_code == 1, result.output
    assert "rejected 1 of 11 rows (9.09%)" in result.stdout
    assert "person.csv" in result.stdout
    assert "load not accepted: rejected share 9.09% exceeds --max-rejected 1.00%" in result.stderr
    result = CliRunner().invoke(app, ["load", "--db", str(db), str(source), "--max-rejected", "0.1"])
    assert result.exit_code == 0, result.output
    with DuckDBEngine(db, read_only=True) as engine:  # the good rows are stored either way, once
        assert engine.sql("SELECT count(*) FROM person").column(0).to_pylist() == [9]


def test_json_output(source: Path, sample: Sample, tmp_path: Path) -> None:
    _folder(source, sample, bad=0)
    rejects = tmp_path / "rejects" / "person.csv"
    result = CliRunner().invoke(app, ["load", "--db", str(tmp_path / "c.duckdb"), str(source), "--json",
                                      "--rejects", str(rejects), "--format", "csv"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["read"], report["loaded"], report["rejected"], report["ok"]) == (11, 11, 0, True)
    assert rejects.read_bytes() == b"file,line,column,value,reason,raw\r\n"  # header only: nothing rejected


def test_unusable_folders_exit_2_with_one_line(source: Path, sample: Sample, tmp_path: Path) -> None:
    db = tmp_path / "c.duckdb"
    result = CliRunner().invoke(app, ["load", "--db", str(db), str(tmp_path / "missing")])
    assert (result.exit_code, result.stderr) == (2, f"error: no such folder: {tmp_path / 'missing'}\n")
    assert not db.exists()
    write_files(source, {"people.csv": sample.people_csv()})
    result = CliRunner().invoke(app, ["load", "--db", str(db), str(source)])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {source}: file(s) named after no registry table: people.csv")
    assert "Traceback" not in result.output
