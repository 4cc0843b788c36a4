"""Importing FHIR R4 Bundles: a round trip against the Synthea CSV import, panels, Finnish codings,
malformed files and resources missing what the registry requires."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import typer
from fhir_fixtures import edge_case_bundle, fixtures
from importer_support import FHIR, SYNTHEA, assert_accounted, count, engine_fixture, read_rejects, table  # noqa: F401
from typer.testing import CliRunner

from ennakoiva.adapters.engine import DuckDBEngine
from ennakoiva.adapters.importers import DEFAULT_SALT, import_fhir, import_synthea, stable_id
from ennakoiva.adapters.loading import StagedLoadReport
from ennakoiva.interfaces.cli.errors import clean_errors
from ennakoiva.interfaces.cli.load_command import load

EXTRACT = date(2024, 2, 2)  # the latest date of the Synthea sample
ROUND_TRIP = ("synthea_5a595dfb_transaction.json", "synthea_261ad2a4_collection.json")
TABLES = ("household", "person", "service_unit", "health_visit", "diagnosis", "measurement", "prescription")


def fhir_import(engine: DuckDBEngine, source: Path, rejects: Path,
                **options: Any) -> tuple[StagedLoadReport, list[dict[str, str]]]:
    report = import_fhir(engine, source, rejects_path=rejects, **options)
    found = read_rejects(rejects)
    assert_accounted(report, found)
    return report, found


def person_id(patient: str) -> int:
    return stable_id(DEFAULT_SALT, "patient", patient)


@pytest.fixture(scope="module", name="edge")
def edge_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DuckDBEngine, StagedLoadReport,
                                                                              list[dict[str, str]]]]:
    """``edge_cases.json`` imported once (extract date 2024-03-31)."""
    with DuckDBEngine(":memory:") as db:
        db.create_tables(replace=False)
        report, rejects = fhir_import(db, FHIR / "edge_cases.json", tmp_path_factory.mktemp("edge") / "rejects.csv",
                                      as_of=date(2024, 3, 31))
        yield db, report, rejects


def test_the_committed_fixtures_are_what_the_generator_builds() -> None:
    for name, bundle in fixtures().items():
        assert json.loads((FHIR / name).read_text(encoding="utf-8")) == bundle, name


def test_a_bundle_round_trip_gives_the_rows_of_the_csv_import(tmp_path: Path) -> None:
    """The same two patients as Synthea CSV and as FHIR (transaction and collection) give identical rows."""
    folder = tmp_path / "bundles"
    folder.mkdir()
    for name in ROUND_TRIP:
        shutil.copy(FHIR / name, folder / name)
    with DuckDBEngine(":memory:") as csv_db, DuckDBEngine(":memory:") as fhir_db:
        for db in (csv_db, fhir_db):
            db.create_tables(replace=False)
        import_synthea(csv_db, SYNTHEA, rejects_path=tmp_path / "csv-rejects.csv", as_of=EXTRACT)
        report, _rejects = fhir_import(fhir_db, folder, tmp_path / "rejects.csv", as_of=EXTRACT)
        assert report.ok and report.rejected == report.excluded
        people = ",".join(str(r["person_id"]) for r in table(fhir_db, "person"))
        assert len(people.split(",")) == 2
        units = ",".join(str(r["unit_id"]) for r in table(fhir_db, "service_unit"))
        for name in TABLES:
            where = {"household": f"household_id IN (SELECT household_id FROM person WHERE person_id IN ({people}))",
                     "service_unit": f"unit_id IN ({units})"}.get(name, f"person_id IN ({people})")
            expected = table(csv_db, name, where)
            assert table(fhir_db, name) == expected, name
            assert expected, name
        # loading the Bundles on top of the CSV import changes nothing: the keys are the same facts
        counts = {name: count(csv_db, f"SELECT count(*) FROM {name}") for name in TABLES}
        again, _ = fhir_import(csv_db, folder, tmp_path / "rejects.csv", as_of=EXTRACT)
        assert again.replaced == again.loaded == report.loaded
        assert {name: count(csv_db, f"SELECT count(*) FROM {name}") for name in TABLES} == counts


def test_reimporting_bundles_is_idempotent(engine: DuckDBEngine, tmp_path: Path) -> None:
    first, rejects = fhir_import(engine, FHIR, tmp_path / "rejects.csv", as_of=date(2024, 3, 31))
    counts = {name: count(engine, f"SELECT count(*) FROM {name}") for name in TABLES}
    again, rejects_again = fhir_import(engine, FHIR, tmp_path / "rejects.csv", as_of=date(2024, 3, 31))
    assert {name: count(engine, f"SELECT count(*) FROM {name}") for name in TABLES} == counts
    assert again.replaced == again.loaded == first.loaded and rejects_again == rejects


def test_blood_pressure_panels_become_systolic_and_diastolic(engine: DuckDBEngine, tmp_path: Path) -> None:
    fhir_import(engine, FHIR / ROUND_TRIP[0], tmp_path / "rejects.csv")
    rows = engine.sql(f"SELECT code, value, unit, measured_on FROM measurement WHERE person_id = "
                      f"{person_id('5a595dfb-9ecf-d4ac-2893-b3e1ced04951')} AND code IN ('8480-6', '8462-4') "
                      "ORDER BY code DESC").to_pylist()
    assert [(r["code"], r["value"], r["unit"], str(r["measured_on"])) for r in rows] == [
        ("8480-6", 148.0, "mm[Hg]", "2023-10-11"), ("8462-4", 113.0, "mm[Hg]", "2023-10-11")]


def test_finnish_data_and_direct_codings(edge: tuple[DuckDBEngine, StagedLoadReport, list[dict[str, str]]]) -> None:
    db, _report, _rejects = edge
    person = person_id("fi-1")
    assert table(db, "person") == [{
        "person_id": person, "birth_date": date(1950, 3, 1), "sex": "F", "mother_tongue": "fi",
        "municipality_code": "091", "district_code": "301", "postal_code": "00530",
        "household_id": stable_id(DEFAULT_SALT, "household", "fi-1"), "moved_in_date": None, "death_date": None,
        "move_out_date": None}]
    assert table(db, "household")[0]["household_type"] == "single_pensioner"
    assert [(r["name"], r["unit_type"]) for r in table(db, "service_unit")] == [("Kallion terveysasema",
                                                                                 "health_station")]
    visit = table(db, "health_visit")
    assert [(str(r["visit_date"]), r["visit_type"]) for r in visit] == [("2024-03-04", "doctor")]
    assert [(r["icd10_code"], r["is_primary"], r["visit_id"]) for r in table(db, "diagnosis")] == [
        ("E11.9", True, visit[0]["visit_id"])]
    measured = {r["code"]: (r["value"], r["unit"]) for r in table(db, "measurement")}
    assert measured == {"8480-6": (152.0, "mm[Hg]"), "8462-4": (94.0, "mm[Hg]"), "18262-6": (3.0001, "mmol/L"),
                        "59261-8": (58.0, "mmol/mol")}
    drugs = {r["atc_code"]: (str(r["start_date"]), str(r["end_date"])) for r in table(db, "prescription")}
    assert drugs == {"C09AA05": ("2024-03-04", "2024-03-31"),  # active: ends on the extract date
                     "A10BA02": ("2023-01-10", "2023-04-09")}  # stopped: 90 days' supply


def test_resources_missing_what_the_registry_requires_are_rejected_with_id_and_reason(
        edge: tuple[DuckDBEngine, StagedLoadReport, list[dict[str, str]]]) -> None:
    _db, report, rejects = edge
    got = {(r["line"], r["column"], r["value"], r["reason"]) for r in rejects}
    assert got == {
        ("5", "verificationStatus", "refuted", "Condition/fi-cond-2: not imported: the condition is refuted"),
        ("9", "valueQuantity", "", "Observation/fi-egfr-1: no valueQuantity for LOINC 33914-3"),
        ("13", "birthDate", "", "Patient/fi-2: no birthDate (person.birth_date is required)"),
        ("14", "gender", "other", "Patient/fi-3: gender 'other' cannot be stored: the register records sex as F or M"),
        ("15", "serviceProvider", "", "Encounter/fi-enc-2: no serviceProvider (health_visit.unit_id is required)"),
        ("16", "code", "12345", "Condition/fi-cond-3: no ICD-10 mapping for SNOMED 12345 (Made-up finding) in "
                                "snomed_to_icd10.csv"),
        ("17", "medicationCodeableConcept", "857005", "MedicationRequest/fi-med-3: no ATC mapping for RxNorm 857005 "
         "(Acetaminophen 325 MG / HYDROcodone Bitartrate 7.5 MG Oral Tablet) in rxnorm_to_atc.csv"),
        ("18", "valueQuantity.value", "400.0", "Observation/fi-bp-2: 400 mm[Hg] is outside the plausible range "
                                               "20–350 mm[Hg] for LOINC 8480-6"),
    }
    raw = next(r["raw"] for r in rejects if r["line"] == "13")
    assert json.loads(raw) == edge_case_bundle()["entry"][12]["resource"]
    assert all(r["file"] == "edge_cases.json" for r in rejects)
    assert "edge_cases.json: not imported (no table in the data model): Claim ×1" in report.notes
    assert (report.rejected, report.excluded) == (8, 1)


def test_a_reference_to_an_unknown_patient_is_rejected_by_the_loader(engine: DuckDBEngine, tmp_path: Path) -> None:
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {
        "resourceType": "Observation", "id": "o1", "status": "final", "subject": {"reference": "Patient/nobody"},
        "code": {"coding": [{"system": "http://loinc.org", "code": "39156-5"}]}, "effectiveDateTime": "2024-01-02",
        "valueQuantity": {"value": 24.5, "unit": "kg/m2", "system": "http://unitsofmeasure.org", "code": "kg/m2"}}}]}
    path = tmp_path / "orphan.json"
    path.write_text(json.dumps(bundle), encoding="utf-8")
    report, rejects = fhir_import(engine, path, tmp_path / "rejects.csv")
    assert [(r["file"], r["line"], r["column"], r["value"]) for r in rejects] == [("orphan.json", "1", "subject",
                                                                                   "nobody")]
    assert rejects[0]["reason"].startswith("no person with this person_id")
    assert not report.ok  # 1 of 1 rows rejected


def test_malformed_json_is_rejected_naming_file_line_and_column(engine: DuckDBEngine, tmp_path: Path) -> None:
    folder = tmp_path / "bundles"
    folder.mkdir()
    shutil.copy(FHIR / ROUND_TRIP[1], folder / "good.json")
    (folder / "broken.json").write_text('{"resourceType": "Bundle",\n "entry": [\n  {"resource": {]}\n]}\n',
                                        encoding="utf-8")
    (folder / "patient.json").write_text('{"resourceType": "Patient", "id": "x"}', encoding="utf-8")
    (folder / "notes.txt").write_text("not a bundle", encoding="utf-8")
    report, rejects = fhir_import(engine, folder, tmp_path / "rejects.csv")
    errors = {f.file: f.error for f in report.failed_files}
    assert errors == {
        "broken.json": "broken.json: not valid JSON: Expecting property name enclosed in double quotes at line 3, "
                       "column 17",
        "patient.json": "patient.json: not a FHIR Bundle (resourceType 'Patient'); give one Bundle per file"}
    assert [(r["file"], r["line"]) for r in rejects if r["file"] == "broken.json"] == [("broken.json", "3")]
    assert report.skipped == ["notes.txt: not a .json file"]
    assert count(engine, "SELECT count(*) FROM person") == 1  # the good file still loads
    assert not report.ok


def test_cli_imports_fhir(tmp_path: Path) -> None:
    app = typer.Typer(add_completion=False)
    app.command("load")(clean_errors(load))
    app.callback()(lambda: None)
    db = tmp_path / "city.duckdb"
    source = FHIR / ROUND_TRIP[0]
    result = CliRunner().invoke(app, ["load", "--db", str(db), str(source), "--format", "fhir", "--rejects",
                                      str(tmp_path / "rejects.csv"), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["format"], report["loaded"], report["ok"]) == ("fhir", 200, True)
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    result = CliRunner().invoke(app, ["load", "--db", str(db), str(broken), "--format", "fhir"])
    assert result.exit_code == 1, result.output
    assert "load not accepted: file(s) rejected as a whole: broken.json" in result.stderr
    result = CliRunner().invoke(app, ["load", "--db", str(db), str(tmp_path / "missing.json"), "--format", "fhir"])
    assert (result.exit_code, result.stderr) == (2, f"error: no such file or folder: {tmp_path / 'missing.json'}\n")
