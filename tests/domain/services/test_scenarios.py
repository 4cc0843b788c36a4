"""Service scenario files: checked like every catalogue file (file:line, references)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ennakoiva.domain.services import load_services
from ennakoiva.domain.services.scenarios import SCENARIOS_DIR, load_scenario, load_scenarios
from ennakoiva.domain.yaml_source import CatalogueError


def test_shipped_scenarios_load_and_name_shipped_services() -> None:
    scenarios = load_scenarios()
    services = {s.id for s in load_services()}
    assert {sc.service for _, sc in scenarios} == services
    assert all(sc.expect for _, sc in scenarios)


def _write(tmp_path: Path, old: str, new: str) -> Path:
    text = (SCENARIOS_DIR / "preschool-offer.yaml").read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "s.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize(("old", "new", "message"), [
    ("{guardian: 101, child: 1}", "{guardian: 999, child: 1}", r"unknown people \['guardians: 999'\]"),
    ("{child: 1, type: daycare, start: 2023-08-01, unit: 2}", "{child: 1, type: daycare, start: 2023-08-01, unit: 7}",
     r"unknown units \[7\]"),
    ('phone: "+358401000101", language: fi}', 'phone: "+358401000101"}', "phone and language go together"),
    ("{id: 2, born: 2021-05-05}", "{id: 2, born: 2021-05-05, colour: red}", "Extra inputs"),
    ("{id: 2, born: 2021-05-05}", "{id: 1, born: 2021-05-05}", "ids must be unique"),
])
def test_bad_scenarios(tmp_path: Path, old: str, new: str, message: str) -> None:
    path = _write(tmp_path, old, new)
    with pytest.raises(CatalogueError, match=message) as err:
        load_scenario(path)
    assert str(err.value).startswith(f"{path}:")


def test_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match="no scenarios"):
        load_scenarios(tmp_path)
