"""Importing a Synthea CSV export: the shipped sample, header drift, mappings and bad rows."""

from __future__ import annotations

import csv
import io
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
import typer
from importer_support import SYNTHEA, assert_accounted, count, engine_fixture, read_rejects, table  # noqa: F401
from typer.testing import CliRunner

from ennakoiva.adapters.engine import DuckDBEngine
from ennakoiva.adapters.importers import DEFAULT_SALT, import_synthea, stable_id
from ennakoiva.adapters.importers.mappings import MAPPINGS_DIR, load_code_maps
from ennakoiva.adapters.loading import LoadError, StagedLoadReport
from ennakoiva.interfaces.cli.errors import clean_errors
from ennakoiva.interfaces.cli.load_command import load

EXTRACT = date(2024, 2, 2)  # the latest date in the sample
HYPERTENSIVE = "5a595dfb-9ecf-d4ac-2893-b3e1ced04951"
TABLES = ("household", "person", "service_unit", "health_visit", "diagnosis", "measurement", "prescription")


@dataclass
class Imported:
    engine: DuckDBEngine
    report: StagedLoadReport
    rejects: list[dict[str, str]]

    def rejects_of(self, file: str) -> list[dict[str, str]]:
        return [r for r in self.rejects if r["file"] == file]


def run_import(engine: DuckDBEngine, source: Path, rejects: Path, **options: object) -> Imported:
    report = import_synthea(engine, source, rejects_path=rejects, **options)  # type: ignore[arg-type]
    found = read_rejects(rejects)
    assert_accounted(report, found)
    return Imported(engine, report, found)


@pytest.fixture(scope="module", name="sample")
def sample_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Imported]:
    """The shipped sample, imported once into an in-memory database."""
    with DuckDBEngine(":memory:") as db:
        db.create_tables(replace=False)
        yield run_import(db, SYNTHEA, tmp_path_factory.mktemp("sample") / "rejects.csv")


def copy_sample(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for path in SYNTHEA.glob("*.csv"):
        shutil.copy(path, folder / path.name)
    return folder


def read_csv_rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def write_csv_rows(path: Path, rows: list[list[str]], *, delimiter: str = ",", bom: bool = False) -> None:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\n").writerows(rows)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + out.getvalue().encode("utf-8"))


def line_of(path: Path, text: str) -> int:
    """The first physical line (from 1) containing ``text``."""
    return next(i for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if text in line)


def test_the_sample_loads_with_every_row_accounted_for(sample: Imported) -> None:
    got = {(f.file, f.table): (f.read, f.loaded, f.rejected, f.excluded) for f in sample.report.files}  # type: ignore[attr-defined]
    assert got == {
        ("patients.csv", "household"): (27, 27, 0, 0),
        ("patients.csv", "person"): (27, 27, 0, 0),
        ("organizations.csv", "service_unit"): (63, 63, 0, 0),
        ("encounters.csv", "health_visit"): (604, 604, 0, 0),
        ("conditions.csv", "diagnosis"): (438, 141, 297, 297),  # social findings: not diagnoses
        ("observations.csv", "measurement"): (990, 135, 855, 855),  # heights, surveys, …: not held
        ("medications.csv", "prescription"): (663, 662, 1, 0),  # RxNorm 857005 has no ATC code
    }
    assert sample.report.ok and sample.report.rejected_share == pytest.approx(1 / 1660)
    for name in TABLES:
        assert count(sample.engine, f"SELECT count(*) FROM {name}") == next(
            f.loaded for f in sample.report.files if f.table == name)
    assert sample.report.skipped == ["LICENSE: not imported (not a Synthea CSV file)",
                                     "README.md: not imported (not a Synthea CSV file)"]
    notes = " ".join(sample.report.notes)
    assert "27 person(s) without a Finnish address" in notes and "mother tongue 'en'" in notes
    assert "46 ongoing medication(s) (no stop date) end on the extract date 2024-02-02" in notes
    # every rejected row points at a real line of its file, once per row
    for entry in sample.report.files:
        lines = {r["line"] for r in sample.rejects_of(entry.file)}
        assert len(lines) == entry.rejected
        assert all(line.isdigit() and int(line) >= 2 for line in lines)


def test_ids_are_stable_pseudonyms_of_the_synthea_ids(sample: Imported) -> None:
    person = stable_id(DEFAULT_SALT, "patient", HYPERTENSIVE)
    assert count(sample.engine, f"SELECT count(*) FROM person WHERE person_id = {person}") == 1
    rows = table(sample.engine, "person")
    assert all(r["municipality_code"] == "091" and r["mother_tongue"] == "en" for r in rows)
    assert len({r["household_id"] for r in rows}) == 27  # one household per patient
    assert sorted(str(r["death_date"]) for r in rows if r["death_date"]) == ["1976-07-25", "2004-03-21"]


def test_hypertension_is_mapped_to_i10(sample: Imported) -> None:
    assert count(sample.engine, "SELECT count(DISTINCT person_id) FROM diagnosis WHERE icd10_code = 'I10'") == 6
    person = stable_id(DEFAULT_SALT, "patient", HYPERTENSIVE)
    sql = f"SELECT count(*) FROM diagnosis WHERE icd10_code = 'I10' AND person_id = {person}"
    assert count(sample.engine, sql) == 1
    # and all six have an active antihypertensive (ATC C02, C03, C07, C08, C09) on the extract date
    treated = count(sample.engine, """
        SELECT count(DISTINCT d.person_id) FROM diagnosis d JOIN prescription p USING (person_id)
        WHERE d.icd10_code = 'I10' AND regexp_matches(p.atc_code, '^C0[23789]') AND p.end_date = DATE '2024-02-02'""")
    assert treated == 6


def test_blood_pressure_lands_as_systolic_and_diastolic_in_mm_hg(sample: Imported) -> None:
    rows = sample.engine.sql("SELECT code, unit, count(*) n FROM measurement WHERE code IN ('8480-6', '8462-4') "
                             "GROUP BY ALL ORDER BY code").to_pylist()
    assert rows == [{"code": "8462-4", "unit": "mm[Hg]", "n": 27}, {"code": "8480-6", "unit": "mm[Hg]", "n": 27}]
    person = stable_id(DEFAULT_SALT, "patient", HYPERTENSIVE)
    last = sample.engine.sql(f"SELECT code, value, measured_on FROM measurement WHERE person_id = {person} AND "
                             "code IN ('8480-6', '8462-4') ORDER BY code DESC").to_pylist()
    assert [(r["code"], r["value"], str(r["measured_on"])) for r in last] == [
        ("8480-6", 148.0, "2023-10-11"), ("8462-4", 113.0, "2023-10-11")]
    without = count(sample.engine, "SELECT count(*) FROM person WHERE person_id NOT IN "
                                   "(SELECT person_id FROM measurement WHERE code = '8480-6')")
    assert without == 3


def test_lab_units_are_converted_to_the_registry_units(sample: Imported) -> None:
    source = next(r for r in read_csv_rows(SYNTHEA / "observations.csv") if r[4] == "18262-6")
    person = stable_id(DEFAULT_SALT, "patient", source[1])
    ldl = sample.engine.sql(f"SELECT value, unit FROM measurement WHERE code = '18262-6' AND person_id = {person} "
                            f"AND measured_on = DATE '{source[0][:10]}'").to_pylist()
    assert ldl == [{"value": round(float(source[6]) * 0.025863, 4), "unit": "mmol/L"}]
    units = {r["code"]: r["unit"] for r in sample.engine.sql("SELECT DISTINCT code, unit FROM measurement").to_pylist()}
    assert units == {"8480-6": "mm[Hg]", "8462-4": "mm[Hg]", "4548-4": "%", "18262-6": "mmol/L", "2093-3": "mmol/L",
                     "2085-9": "mmol/L", "2571-8": "mmol/L", "2339-0": "mmol/L", "33914-3": "mL/min/1.73m2",
                     "39156-5": "kg/m2"}


def test_unmapped_codes_are_rejected_and_explained_never_dropped(sample: Imported, tmp_path: Path) -> None:
    line = line_of(SYNTHEA / "medications.csv", ",857005,")
    assert [(r["line"], r["column"], r["value"]) for r in sample.rejects_of("medications.csv")] == [
        (str(line), "CODE", "857005")]
    assert sample.rejects_of("medications.csv")[0]["reason"].startswith(
        "no ATC mapping for RxNorm 857005 (Acetaminophen 325 MG / HYDROcodone Bitartrate 7.5 MG Oral Tablet)")
    employment = [r for r in sample.rejects_of("conditions.csv") if r["value"] == "160903007"]
    assert len(employment) == 186
    assert employment[0]["reason"].startswith("not imported: SNOMED 160903007 (Full-time employment (finding)) is "
                                              "not a diagnosis")
    heights = [r for r in sample.rejects_of("observations.csv") if r["value"] == "8302-2"]
    assert len(heights) == 27 and "is not a measurement the data model holds" in heights[0]["reason"]
    # a code in no mapping table is a rejected row, counted against the load
    folder = copy_sample(tmp_path / "synthea")
    rows = read_csv_rows(folder / "conditions.csv")
    rows[1][4] = "999999999"
    write_csv_rows(folder / "conditions.csv", rows)
    with DuckDBEngine(":memory:") as db:
        db.create_tables(replace=False)
        got = run_import(db, folder, tmp_path / "rejects.csv")
    reject = next(r for r in got.rejects_of("conditions.csv") if r["value"] == "999999999")
    assert (reject["line"], reject["column"]) == ("2", "CODE")
    assert reject["reason"].startswith("no ICD-10 mapping for SNOMED 999999999")
    entry = next(f for f in got.report.files if f.file == "conditions.csv")
    assert (entry.rejected, entry.excluded) == (298, 297)  # type: ignore[attr-defined]


def test_the_mapping_tables_cover_every_code_of_the_sample() -> None:
    maps = load_code_maps()
    conditions = {r[4] for r in read_csv_rows(SYNTHEA / "conditions.csv")[1:]}
    drugs = {r[5] for r in read_csv_rows(SYNTHEA / "medications.csv")[1:]}
    assert conditions <= set(maps.snomed)
    assert drugs - set(maps.rxnorm) == {"857005"}
    assert maps.snomed["59621000"].icd10 == "I10"
    assert {maps.rxnorm[c].atc for c in ("314076", "310798", "308136", "197361", "833036")} == {
        "C09AA03", "C03AA03", "C08CA01", "C09AA01"}


def test_a_broken_mapping_table_fails_with_file_and_line(tmp_path: Path) -> None:
    for path in MAPPINGS_DIR.glob("*.csv"):
        shutil.copy(path, tmp_path / path.name)
    text = (tmp_path / "rxnorm_to_atc.csv").read_text(encoding="utf-8").replace(",C09AA03,", ",C9AA03,")
    (tmp_path / "rxnorm_to_atc.csv").write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=r"rxnorm_to_atc.csv: line \d+: 'C9AA03' is not a valid atc code"):
        load_code_maps(tmp_path)


def test_rerunning_is_idempotent(engine: DuckDBEngine, tmp_path: Path) -> None:
    first = run_import(engine, SYNTHEA, tmp_path / "rejects.csv")
    counts = {name: count(engine, f"SELECT count(*) FROM {name}") for name in TABLES}
    again = run_import(engine, SYNTHEA, tmp_path / "rejects.csv")
    assert {name: count(engine, f"SELECT count(*) FROM {name}") for name in TABLES} == counts
    assert again.report.loaded == first.report.loaded == again.report.replaced
    assert again.rejects == first.rejects


def test_header_drift_is_handled(sample: Imported, tmp_path: Path) -> None:
    """``ID`` for ``Id``, another column order, newer extra columns, a BOM, ``;`` and a SYSTEM column."""
    folder = copy_sample(tmp_path / "drift")
    patients = read_csv_rows(folder / "patients.csv")
    header = ["ID" if h == "Id" else h for h in patients[0]] + ["MIDDLE", "FIPS", "INCOME"]
    rows = [list(reversed(r + (["", "25025", "50000"] if i else []))) for i, r in enumerate(patients[1:], 1)]
    write_csv_rows(folder / "patients.csv", [list(reversed(header)), *rows], delimiter=";", bom=True)
    conditions = read_csv_rows(folder / "conditions.csv")
    with_system = [[*r[:4], "SYSTEM" if i == 0 else "http://snomed.info/sct", *r[4:]] for i, r in enumerate(conditions)]
    write_csv_rows(folder / "conditions.csv", with_system)
    encounters = read_csv_rows(folder / "encounters.csv")
    write_csv_rows(folder / "encounters.csv", [[h.lower() for h in encounters[0]], *encounters[1:]])
    with DuckDBEngine(":memory:") as db:
        db.create_tables(replace=False)
        drift = run_import(db, folder, tmp_path / "rejects.csv")
        for name in TABLES:
            assert table(db, name) == table(sample.engine, name), name
    entry = next(f for f in drift.report.files if f.file == "patients.csv" and f.table == "person")
    assert "columns not in Synthea v3.0.0, ignored: INCOME, FIPS, MIDDLE" in entry.warnings


def test_a_missing_required_column_rejects_that_file_only(tmp_path: Path) -> None:
    folder = copy_sample(tmp_path / "synthea")
    rows = read_csv_rows(folder / "observations.csv")
    write_csv_rows(folder / "observations.csv", [r[:6] + r[7:] for r in rows])  # no VALUE
    with DuckDBEngine(":memory:") as db:
        db.create_tables(replace=False)
        got = run_import(db, folder, tmp_path / "rejects.csv")
        assert count(db, "SELECT count(*) FROM measurement") == 0
        assert count(db, "SELECT count(*) FROM diagnosis") == 141
    entry = next(f for f in got.report.files if f.file == "observations.csv")
    assert entry.error is not None and entry.error.startswith(
        "observations.csv: line 1: missing required column(s) VALUE — Synthea v3.0.0 observations.csv has columns")
    assert (entry.read, entry.rejected) == (990, 990)
    assert not got.report.ok and got.report.failed_files == [entry]


def test_stop_before_start_is_rejected_with_its_line(tmp_path: Path) -> None:
    folder = copy_sample(tmp_path / "synthea")
    rows = read_csv_rows(folder / "medications.csv")
    index = next(i for i, r in enumerate(rows) if i and r[1] and r[1] > r[0])
    rows[index][0], rows[index][1] = rows[index][1], rows[index][0]
    write_csv_rows(folder / "medications.csv", rows)
    conditions = read_csv_rows(folder / "conditions.csv")
    conditions[1][1] = "2000-01-01"  # STOP long before START
    write_csv_rows(folder / "conditions.csv", conditions)
    with DuckDBEngine(":memory:") as db:
        db.create_tables(replace=False)
        got = run_import(db, folder, tmp_path / "rejects.csv")
    swapped = next(r for r in got.rejects_of("medications.csv") if r["line"] == str(index + 1))
    assert swapped["column"] == "STOP"
    assert swapped["reason"] == f"STOP {rows[index][1]} is before START {rows[index][0]}"
    assert swapped["raw"].startswith(f"{rows[index][0]},{rows[index][1]},")
    condition = next(r for r in got.rejects_of("conditions.csv") if r["line"] == "2")
    assert (condition["column"], condition["value"]) == ("STOP", "2000-01-01")
    assert condition["reason"].startswith("STOP 2000-01-01 is before START")


def test_bad_values_are_explained_by_the_loader_at_the_source_line(tmp_path: Path) -> None:
    folder = copy_sample(tmp_path / "synthea")
    rows = read_csv_rows(folder / "observations.csv")
    bp = next(i for i, r in enumerate(rows) if r[4] == "8480-6")
    rows[bp][6] = "148,5"  # decimal comma
    unit = next(i for i, r in enumerate(rows) if r[4] == "18262-6")
    rows[unit][7] = "mg"  # a unit the LDL rule cannot convert
    ghost = next(i for i, r in enumerate(rows) if r[4] == "8462-4")
    rows[ghost][1] = "no-such-patient"
    twice = next(i for i, r in enumerate(rows) if r[4] == "39156-5")
    rows.append(list(rows[twice]))  # the same reading again
    rows.append(rows[-1][:5])  # a line cut short
    write_csv_rows(folder / "observations.csv", rows)
    with DuckDBEngine(":memory:") as db:
        db.create_tables(replace=False)
        got = run_import(db, folder, tmp_path / "rejects.csv")
    problems = {r["line"]: (r["column"], r["value"], r["reason"]) for r in got.rejects_of("observations.csv")}
    duplicate = problems[str(len(rows) - 1)][2]
    assert duplicate == f"duplicate primary key (measurement_id): the same key as line {twice + 1}"
    assert problems[str(len(rows))] == ("", "", "expected 9 fields separated by ',', found 5")
    assert problems[str(bp + 1)][:2] == ("VALUE", "148,5")
    assert problems[str(bp + 1)][2].startswith("decimal comma")
    assert problems[str(unit + 1)][:2] == ("UNITS", "mg")
    assert problems[str(unit + 1)][2].startswith("unit 'mg' cannot be converted to mmol/L for LOINC 18262-6")
    assert problems[str(ghost + 1)][:2] == ("PATIENT", "no-such-patient")
    assert problems[str(ghost + 1)][2].startswith("no person with this person_id")


def test_the_extract_date_ends_ongoing_medications(engine: DuckDBEngine, tmp_path: Path) -> None:
    got = run_import(engine, SYNTHEA, tmp_path / "rejects.csv", as_of=date(2023, 12, 31))
    late = [r for r in got.rejects_of("medications.csv") if "after the extract date 2023-12-31" in r["reason"]]
    ongoing = count(engine, "SELECT count(*) FROM prescription WHERE end_date = DATE '2023-12-31'")
    assert ongoing + len(late) >= 46 and ongoing > 0
    assert count(engine, "SELECT count(*) FROM prescription WHERE end_date < start_date") == 0


def test_cli_imports_synthea(tmp_path: Path) -> None:
    app = typer.Typer(add_completion=False)
    app.command("load")(clean_errors(load))
    app.callback()(lambda: None)
    db = tmp_path / "city.duckdb"
    rejects = tmp_path / "rejects.csv"
    result = CliRunner().invoke(app, ["load", "--db", str(db), str(SYNTHEA), "--format", "synthea", "--rejects",
                                      str(rejects), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["format"], report["read"], report["loaded"], report["rejected"], report["excluded"]) == (
        "synthea", 2812, 1659, 1153, 1152)
    assert report["ok"] is True
    result = CliRunner().invoke(app, ["load", "--db", str(db), str(SYNTHEA), "--format", "synthea", "--rejects",
                                      str(rejects)])
    assert result.exit_code == 0, result.output
    assert "rejected 1 of 1,660 rows in scope (0.06%); 1,152 rows outside the data model not imported" in result.stdout
    result = CliRunner().invoke(app, ["load", "--db", str(db), str(SYNTHEA), "--format", "synthea", "--as-of", "x"])
    assert (result.exit_code, result.stderr) == (2, "error: --as-of must be a date YYYY-MM-DD, not 'x'\n")


def test_a_folder_without_synthea_files_is_an_error(engine: DuckDBEngine, tmp_path: Path) -> None:
    (tmp_path / "allergies.csv").write_text("START,STOP\n", encoding="utf-8")
    with pytest.raises(LoadError, match=r"no Synthea CSV file with a table in the data model \(patients.csv"):
        import_synthea(engine, tmp_path)
    with pytest.raises(FileNotFoundError, match="no such folder"):
        import_synthea(engine, tmp_path / "missing")
