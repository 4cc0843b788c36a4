"""The table registry: complete, cross-referenced, and strict about bad catalogue files."""

from __future__ import annotations

from pathlib import Path

import pytest

from ennakoiva.domain.registry import CATALOGUE_DIR, load_registry
from ennakoiva.domain.yaml_source import CatalogueError

SECTOR_TABLES = {
    "person", "household", "family_relation", "contact_channel", "service_unit", "health_visit", "diagnosis",
    "prescription", "measurement", "family_service", "child_welfare_notification", "child_welfare_client",
    "jobseeker_spell", "jobseeker_background", "employment_service", "ecec_placement", "income", "building",
    "building_reading",
}


def test_registry_has_every_table_the_issue_names() -> None:
    registry = load_registry()
    assert set(registry.tables) == SECTOR_TABLES
    for table in registry.tables.values():
        assert table.description.strip()
        assert all(col.description.strip() for col in table.columns), table.name


def test_person_id_is_the_key_everywhere_and_no_identity_code_exists() -> None:
    registry = load_registry()
    for table in registry.tables.values():
        names = table.column_names
        assert not any("hetu" in n or "ssn" in n or "identity" in n for n in names)
        if "person_id" in names and table.name != "person":
            assert table.column("person_id").references == "person.person_id"


def test_load_order_puts_referenced_tables_first() -> None:
    registry = load_registry()
    order = registry.load_order()
    for table in registry.tables.values():
        for col in table.columns:
            if col.references:
                ref = col.references.split(".")[0]
                assert order.index(ref) <= order.index(table.name), (table.name, ref)


def _copy_catalogue(tmp_path: Path) -> Path:
    target = tmp_path / "catalogue"
    (target / "tables").mkdir(parents=True)
    for name in ("code_systems.yaml", "data_categories.yaml"):
        (target / name).write_text((CATALOGUE_DIR / name).read_text("utf-8"), "utf-8")
    for path in (CATALOGUE_DIR / "tables").glob("*.yaml"):
        (target / "tables" / path.name).write_text(path.read_text("utf-8"), "utf-8")
    return target


def test_unknown_key_is_an_error_with_file_and_line(tmp_path: Path) -> None:
    cat = _copy_catalogue(tmp_path)
    path = cat / "tables" / "building.yaml"
    lines = path.read_text("utf-8").splitlines()
    lines.insert(3, "colour: blue")
    path.write_text("\n".join(lines) + "\n", "utf-8")
    with pytest.raises(CatalogueError, match=r"building\.yaml:4: .*colour"):
        load_registry(cat)


def test_duplicate_key_is_an_error_with_line(tmp_path: Path) -> None:
    cat = _copy_catalogue(tmp_path)
    path = cat / "tables" / "building.yaml"
    path.write_text(path.read_text("utf-8") + "sector: twice\n", "utf-8")
    with pytest.raises(CatalogueError, match=r"building\.yaml:\d+: duplicate key 'sector'"):
        load_registry(cat)


def test_broken_reference_is_an_error(tmp_path: Path) -> None:
    cat = _copy_catalogue(tmp_path)
    path = cat / "tables" / "diagnosis.yaml"
    path.write_text(path.read_text("utf-8").replace("health_visit.visit_id", "health_visit.nope"), "utf-8")
    with pytest.raises(CatalogueError, match=r"diagnosis\.visit_id: reference health_visit\.nope does not exist"):
        load_registry(cat)


def test_unknown_code_system_is_an_error(tmp_path: Path) -> None:
    cat = _copy_catalogue(tmp_path)
    path = cat / "tables" / "person.yaml"
    path.write_text(path.read_text("utf-8").replace("code_system: sex", "code_system: gender"), "utf-8")
    with pytest.raises(CatalogueError, match="unknown code system 'gender'"):
        load_registry(cat)


def test_non_utf8_catalogue_file_is_rejected(tmp_path: Path) -> None:
    cat = _copy_catalogue(tmp_path)
    path = cat / "tables" / "building.yaml"
    path.write_bytes(path.read_text("utf-8").replace("City-owned", "Kaupungin ä").encode("latin-1"))
    with pytest.raises(CatalogueError, match="not UTF-8"):
        load_registry(cat)


@pytest.mark.parametrize(("system", "good", "bad"), [
    ("icd10", ["I10", "E11.9", "F32.1"], ["i10", "I109", "I10.", "10"]),
    ("atc", ["C09AA05", "C09", "B01AF01"], ["c09aa05", "C09 AA05", "C9"]),
    ("loinc", ["8480-6", "8462-4", "59261-8"], ["8480-5", "8480", "8480-X"]),
    ("e164", ["+358401234567"], ["0401234567", "+0401234567"]),
    ("sex", ["F", "M"], ["X", "f", ""]),
])
def test_code_systems_accept_and_reject(system: str, good: list[str], bad: list[str]) -> None:
    cs = load_registry().code_systems[system]
    assert all(cs.is_valid(c) for c in good)
    assert not any(cs.is_valid(c) for c in bad)


def test_personal_tables_name_a_known_data_category(tmp_path: Path) -> None:
    registry = load_registry()
    for table in registry.tables.values():
        assert (table.category is not None) == table.personal, table.name
    cat = _copy_catalogue(tmp_path)
    path = cat / "tables" / "income.yaml"
    path.write_text(path.read_text("utf-8").replace("category: income", "category: salary"), "utf-8")
    with pytest.raises(CatalogueError, match="unknown data category 'salary'"):
        load_registry(cat)
