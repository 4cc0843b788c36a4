"""Docs that are generated or promised stay in step with the code."""

from __future__ import annotations

import re
from pathlib import Path

from ennakoiva.domain.registry import load_registry
from ennakoiva.domain.registry_doc import render_data_model
from ennakoiva.interfaces.cli.main import app

ROOT = Path(__file__).resolve().parent.parent


def test_data_model_doc_is_generated_from_the_registry() -> None:
    committed = (ROOT / "docs" / "data-model.md").read_text("utf-8")
    assert committed == render_data_model(load_registry()), "run: .venv/bin/python scripts/gen_data_model.py"


def test_every_registry_column_is_documented() -> None:
    doc = (ROOT / "docs" / "data-model.md").read_text("utf-8")
    for table in load_registry().tables.values():
        assert f"### {table.name}" in doc
        for col in table.columns:
            assert f"| `{col.name}` |" in doc


def test_readme_has_exactly_two_setup_commands_and_ci_runs_the_test_one() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    setup = readme.split("## Set-up", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"^\s*(make \w+)\s*$", setup, flags=re.M)
    assert commands == ["make demo", "make test"]
    assert "make test" in (ROOT / ".ci" / "run").read_text("utf-8")


def test_readme_tours_every_cli_command() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    for command in app.registered_commands:
        name = command.name or (command.callback.__name__ if command.callback else "")
        assert f"ennakoiva {name}" in readme, name
