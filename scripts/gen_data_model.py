"""Regenerate docs/data-model.md from the table registry."""

from pathlib import Path

from ennakoiva.domain.registry import load_registry
from ennakoiva.domain.registry_doc import render_data_model

target = Path(__file__).resolve().parent.parent / "docs" / "data-model.md"
target.write_text(render_data_model(load_registry()), encoding="utf-8")
print(f"wrote {target}")
