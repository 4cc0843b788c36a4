"""The CLI as a user runs it: real subprocesses, --help everywhere, JSON, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

CLI = [sys.executable, "-m", "ennakoiva"]


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "120"}
    return subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300, check=False)


@pytest.mark.parametrize("command", ["synth", "load", "info", "export", "demo"])
def test_every_command_has_help(command: str) -> None:
    result = run(command, "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout


def test_synth_info_export_round_trip(tmp_path: Path) -> None:
    db, truth = tmp_path / "c.duckdb", tmp_path / "t.duckdb"
    made = run("synth", "--residents", "2000", "--seed", "5", "--db", str(db), "--truth", str(truth), "--json")
    assert made.returncode == 0, made.stderr
    summary = json.loads(made.stdout)
    assert summary["rows"]["person"] >= 2000
    info = run("info", "--db", str(db), "--json")
    assert info.returncode == 0, info.stderr
    data = json.loads(info.stdout)
    rows = {t["name"]: t["rows"] for t in data["tables"]}
    assert rows["person"] == summary["rows"]["person"]
    assert data["size_bytes"] > 0
    out = tmp_path / "export"
    exported = run("export", "--db", str(db), "--out", str(out), "--format", "csv")
    assert exported.returncode == 0, exported.stderr
    header = (out / "person.csv").read_text("utf-8").splitlines()[0]
    assert header.startswith("person_id,birth_date,sex")
    assert len((out / "person.csv").read_text("utf-8").splitlines()) == rows["person"] + 1


def test_missing_database_is_one_clear_line(tmp_path: Path) -> None:
    result = run("info", "--db", str(tmp_path / "nope.duckdb"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().startswith("error:")
    assert "nope.duckdb" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_bad_option_value_exits_non_zero(tmp_path: Path) -> None:
    result = run("export", "--db", str(tmp_path / "x.duckdb"), "--format", "xlsx")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
