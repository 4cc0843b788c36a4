"""``ennakoiva serve`` and ``ennakoiva demo --no-serve``: the CLI side of the web service."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from ennakoiva.interfaces.cli.main import app


def test_serve_and_demo_flags() -> None:
    runner = CliRunner()
    serve = runner.invoke(app, ["serve", "--help"], env={"COLUMNS": "200"})
    assert serve.exit_code == 0 and "--db" in serve.output and "--port" in serve.output and "--host" in serve.output
    demo = runner.invoke(app, ["demo", "--help"], env={"COLUMNS": "200"})
    assert demo.exit_code == 0 and "--no-serve" in demo.output


def test_serve_without_a_city_is_a_clean_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["serve", "--db", str(tmp_path / "missing.duckdb")])
    assert result.exit_code == 2 and "no city database" in result.output
