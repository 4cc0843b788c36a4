"""Synthea CSV export → registry tables.

Six of Synthea's files have a place in the data model: ``patients.csv`` (person and a one-person
household), ``organizations.csv`` (service_unit), ``encounters.csv`` (health_visit),
``conditions.csv`` (diagnosis, SNOMED CT → ICD-10), ``observations.csv`` (measurement, LOINC with
units converted) and ``medications.csv`` (prescription, RxNorm → ATC); the others are listed as
skipped. Files are read by the loader's CSV reader (encoding, BOM, ``,``/``;``/tab, broken lines)
and columns are found by *name*, case-insensitively (``Id``, ``ID``), in any order; columns Synthea
v3.0.0 does not write are ignored with a warning, and a missing required column rejects the file.
Every rejected row points at its line in the Synthea file.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from ennakoiva.adapters.importers.common import (
    Problem,
    condition_code,
    date_part,
    drug_code,
    is_before,
    key_time,
    measurement,
    number_text,
    parse_moment,
)
from ennakoiva.adapters.importers.context import Context
from ennakoiva.adapters.importers.staging import Batch
from ennakoiva.adapters.loading.csv_source import read_csv
from ennakoiva.adapters.loading.errors import LoadError
from ennakoiva.adapters.loading.source_rows import SourceRows
from ennakoiva.adapters.loading.staged import StagedRows

__all__ = ["SYNTHEA_FILES", "SyntheaSource", "convert_synthea", "read_synthea_folder"]

# The v3.0.0 header of each file the importer reads (CSVExporter.writeCSVHeaders), and the columns
# it needs. Columns are matched by upper-cased name, so ``Id`` and ``ID`` are the same column.
SYNTHEA_FILES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "patients.csv": (("ID", "BIRTHDATE", "DEATHDATE", "SSN", "DRIVERS", "PASSPORT", "PREFIX", "FIRST", "LAST",
                      "SUFFIX", "MAIDEN", "MARITAL", "RACE", "ETHNICITY", "GENDER", "BIRTHPLACE", "ADDRESS", "CITY",
                      "STATE", "COUNTY", "ZIP", "LAT", "LON", "HEALTHCARE_EXPENSES", "HEALTHCARE_COVERAGE"),
                     ("ID", "BIRTHDATE", "GENDER")),
    "organizations.csv": (("ID", "NAME", "ADDRESS", "CITY", "STATE", "ZIP", "LAT", "LON", "PHONE", "REVENUE",
                           "UTILIZATION"), ("ID",)),
    "encounters.csv": (("ID", "START", "STOP", "PATIENT", "ORGANIZATION", "PROVIDER", "PAYER", "ENCOUNTERCLASS",
                        "CODE", "DESCRIPTION", "BASE_ENCOUNTER_COST", "TOTAL_CLAIM_COST", "PAYER_COVERAGE",
                        "REASONCODE", "REASONDESCRIPTION"), ("ID", "START", "PATIENT", "ORGANIZATION",
                                                             "ENCOUNTERCLASS")),
    "conditions.csv": (("START", "STOP", "PATIENT", "ENCOUNTER", "CODE", "DESCRIPTION"),
                       ("START", "PATIENT", "CODE")),
    "observations.csv": (("DATE", "PATIENT", "ENCOUNTER", "CATEGORY", "CODE", "DESCRIPTION", "VALUE", "UNITS",
                          "TYPE"), ("DATE", "PATIENT", "CODE", "VALUE")),
    "medications.csv": (("START", "STOP", "PATIENT", "PAYER", "ENCOUNTER", "CODE", "DESCRIPTION", "BASE_COST",
                         "PAYER_COVERAGE", "DISPENSES", "TOTALCOST", "REASONCODE", "REASONDESCRIPTION"),
                        ("START", "PATIENT", "CODE")),
}
# Columns newer Synthea versions add that the importer understands (not warned about).
_UNDERSTOOD = {"conditions.csv": ("SYSTEM",), "medications.csv": ("SYSTEM",)}
_TABLE = {"patients.csv": "person", "organizations.csv": "service_unit", "encounters.csv": "health_visit",
          "conditions.csv": "diagnosis", "observations.csv": "measurement", "medications.csv": "prescription"}
_DATE_COLUMNS = {"patients.csv": ("DEATHDATE",), "encounters.csv": ("START", "STOP"),
                 "conditions.csv": ("START", "STOP"), "observations.csv": ("DATE",),
                 "medications.csv": ("START", "STOP")}
_SNOMED = {"", "HTTP://SNOMED.INFO/SCT", "SNOMED", "SNOMED-CT", "SNOMEDCT", "SNOMED CT", "SCT"}
_RXNORM = {"", "HTTP://WWW.NLM.NIH.GOV/RESEARCH/UMLS/RXNORM", "RXNORM"}
_ATC = {"HTTP://WWW.WHOCC.NO/ATC", "ATC"}
_STRIPPED = {"ID", "PATIENT", "ENCOUNTER", "ORGANIZATION", "CODE", "ENCOUNTERCLASS"}


@dataclass
class SyntheaFile:
    """One Synthea CSV file read by the loader's reader, with its columns found by name."""

    name: str
    rows: SourceRows
    index: dict[str, int]  # upper-cased column name -> position
    warnings: list[str]

    def col(self, name: str) -> list[str]:
        """The column's texts ("" everywhere when the optional column is absent); ids and codes stripped."""
        if name not in self.index:
            return [""] * self.rows.num_rows
        values = [v if v is not None else "" for v in self.rows.columns[self.index[name]].to_pylist()]
        return [v.strip() for v in values] if name in _STRIPPED else values

    def cols(self, *names: str) -> Iterator[tuple[str, ...]]:
        """The rows' values of ``names``, as tuples."""
        return zip(*(self.col(n) for n in names), strict=True)

    def label(self, name: str) -> str:
        """The column's name as the file writes it (``Id`` or ``ID``)."""
        return self.rows.header[self.index[name]] if name in self.index else name

    def raw(self, refs: list[int]) -> list[str]:
        return self.rows.raw(pa.array(refs, pa.int64())) if refs else []


@dataclass
class SyntheaSource:
    """The readable Synthea files of a folder, the files rejected whole, and what was skipped."""

    folder: Path
    files: dict[str, SyntheaFile]
    failed: dict[str, tuple[LoadError, int, str]]  # name -> (error, rows, header as read)
    skipped: list[str]


def read_synthea_folder(folder: Path, encoding: str | None = None,
                        rejects_path: Path | None = None) -> SyntheaSource:
    """Read every Synthea file of ``folder`` that the data model has a table for."""
    if not folder.exists():
        raise FileNotFoundError(f"no such folder: {folder}")
    if not folder.is_dir():
        raise LoadError(f"{folder} is not a folder; give the folder of Synthea's CSV export")
    rejects = rejects_path.resolve() if rejects_path else None
    files: dict[str, SyntheaFile] = {}
    failed: dict[str, tuple[LoadError, int, str]] = {}
    skipped: list[str] = []
    for path in sorted(folder.iterdir()):
        name = path.name.lower()
        if path.name.startswith("."):
            continue
        if path.resolve() == rejects or path.name == "rejects.csv":
            skipped.append(f"{path.name}: a rejects file")
        elif name not in SYNTHEA_FILES:
            why = ("the data model has no table for it" if name.endswith(".csv") else "not a Synthea CSV file")
            skipped.append(f"{path.name}: not imported ({why})")
        else:
            try:
                files[name] = _read(path, name, encoding)
            except LoadError as exc:
                failed[name] = (exc, _rough_rows(path), _first_line(path))
    if not files and not failed:
        raise LoadError(f"{folder}: no Synthea CSV file with a table in the data model "
                        f"({', '.join(SYNTHEA_FILES)})")
    return SyntheaSource(folder, files, failed, skipped)


def _rough_rows(path: Path) -> int:
    try:
        return max(0, sum(1 for line in path.read_bytes().split(b"\n") if line.strip()) - 1)
    except OSError:
        return 0


def _first_line(path: Path) -> str:
    try:
        return path.read_bytes().split(b"\n", 1)[0].decode("utf-8", "replace").strip()
    except OSError:
        return ""


def _read(path: Path, name: str, encoding: str | None) -> SyntheaFile:
    rows = read_csv(path, encoding)
    names = [h.strip().upper() for h in rows.header]
    twice = sorted(n for n, k in Counter(names).items() if k > 1)
    where = f"{path.name}: line 1"
    if twice:
        raise LoadError(f"{where}: column(s) {', '.join(twice)} appear more than once (names are matched "
                        "without regard to case)", line=1, column=",".join(twice))
    known, required = SYNTHEA_FILES[name]
    missing = [c for c in required if c not in names]
    if missing:
        raise LoadError(f"{where}: missing required column(s) {', '.join(missing)} — Synthea v3.0.0 {name} has "
                        f"columns {','.join(known)}", line=1, column=",".join(missing))
    understood = (*known, *_UNDERSTOOD.get(name, ()))
    extra = [h for h, n in zip(rows.header, names, strict=True) if n not in understood]
    warnings = [f"columns not in Synthea v3.0.0, ignored: {', '.join(extra)}"] if extra else []
    return SyntheaFile(path.name, rows, {n: i for i, n in enumerate(names)}, warnings)


def latest_date(source: SyntheaSource) -> date | None:
    """The latest well-formed date in the event columns: the extract date when none is given."""
    best: date | None = None
    for name, columns in _DATE_COLUMNS.items():
        file = source.files.get(name)
        if file is None:
            continue
        for column in columns:
            if column not in file.index:
                continue
            days = pc.utf8_slice_codeunits(file.rows.columns[file.index[column]], 0, 10)
            days = pc.filter(days, pc.fill_null(pc.match_substring_regex(days, r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"),
                                                False))
            for text in sorted(set(days.to_pylist()), reverse=True):
                moment = parse_moment(text)
                if isinstance(moment, date):
                    best = moment if best is None or moment > best else best
                    break
    return best


def convert_synthea(source: SyntheaSource, ctx: Context) -> list[StagedRows]:
    """Every file as staged rows (whole-file rejections included), in the registry's load order."""
    out: list[StagedRows] = []
    for name, (error, rows, header) in source.failed.items():
        out.append(StagedRows(table=_TABLE[name], file=error_file_name(source.folder, name), error=error,
                              read=rows, error_raw=header))
    reasons = _encounter_reasons(source.files.get("encounters.csv"))
    converters: dict[str, Callable[[SyntheaFile], Iterable[Batch]]] = {
        "patients.csv": lambda f: _patients(f, ctx),
        "organizations.csv": lambda f: [_organizations(f, ctx)],
        "encounters.csv": lambda f: [_encounters(f, ctx)],
        "conditions.csv": lambda f: [_conditions(f, ctx, reasons)],
        "observations.csv": lambda f: [_observations(f, ctx)],
        "medications.csv": lambda f: [_medications(f, ctx)],
    }
    for name, file in source.files.items():
        for batch in converters[name](file):
            batch.warnings[:0] = file.warnings
            staged = batch.build(file.raw)
            out.append(staged)
    return out


def error_file_name(folder: Path, name: str) -> str:
    """The file's name as it is in the folder (``Patients.csv``)."""
    return next((p.name for p in folder.iterdir() if p.name.lower() == name), name)


def _broken(batch: Batch, file: SyntheaFile) -> None:
    """Lines the CSV reader could not split into the header's fields: rejected as they are."""
    broken = file.rows.broken.to_pydict()
    for position, reason, raw in zip(broken["position"], broken["reason"], broken["raw"], strict=True):
        batch.reject(position, -1, Problem("", "", reason), raw)


def _stop_problem(file: SyntheaFile, start: str, stop: str) -> Problem | None:
    """STOP that is not a date, or is before START (a START that is not a date is the loader's to explain)."""
    if not stop.strip():
        return None
    when = parse_moment(stop)
    if when is None:
        return Problem(file.label("STOP"), stop, "not an ISO date or timestamp")
    began = parse_moment(start)
    if began is not None and is_before(when, began):
        return Problem(file.label("STOP"), stop, f"STOP {stop.strip()} is before START {start.strip()}")
    return None


def _patients(file: SyntheaFile, ctx: Context) -> list[Batch]:
    person = Batch("person", file.name, sources={"birth_date": file.label("BIRTHDATE"), "sex": file.label("GENDER"),
                                                 "death_date": file.label("DEATHDATE"), "person_id": file.label("ID")},
                   shown=("person_id",))
    household = Batch("household", file.name, sources={"household_id": file.label("ID")}, shown=("household_id",))
    _broken(person, file)
    positions = file.rows.positions.to_pylist()
    for i, (pid, birth_text, gender, death_text) in enumerate(file.cols("ID", "BIRTHDATE", "GENDER", "DEATHDATE")):
        sex = gender.strip().upper()
        birth = parse_moment(date_part(birth_text))
        death = date_part(death_text)
        dead = parse_moment(death) if death else None
        problem = None
        if not pid:
            problem = Problem(file.label("ID"), "", "missing patient Id")
        elif not isinstance(birth, date) or len(date_part(birth_text)) != 10:
            problem = Problem(file.label("BIRTHDATE"), birth_text, "not an ISO date YYYY-MM-DD")
        elif sex not in ("F", "M"):
            problem = Problem(file.label("GENDER"), gender, f"GENDER {gender.strip()!r} is neither F nor M (the "
                                                            "register records sex as F or M)")
        elif death and dead is None:
            problem = Problem(file.label("DEATHDATE"), death_text, "not an ISO date YYYY-MM-DD")
        elif dead is not None and is_before(dead, birth):
            problem = Problem(file.label("DEATHDATE"), death_text, f"DEATHDATE {death} is before BIRTHDATE {birth}")
        if problem is not None:
            person.reject(positions[i], i, problem)
            continue
        assert isinstance(birth, date)
        row, home = ctx.person(pid, birth=birth, sex=sex, death=death, language=None, postal_code=None)
        person.add(positions[i], i, row, {"person_id": pid})
        household.add(positions[i], i, home, {"household_id": pid})
    return [household, person]


def _organizations(file: SyntheaFile, ctx: Context) -> Batch:
    batch = Batch("service_unit", file.name, sources={"unit_id": file.label("ID"), "name": file.label("NAME")},
                  shown=("unit_id",))
    _broken(batch, file)
    positions = file.rows.positions.to_pylist()
    for i, (org, name) in enumerate(file.cols("ID", "NAME")):
        if not org:
            batch.reject(positions[i], i, Problem(file.label("ID"), "", "missing organization Id"))
            continue
        batch.add(positions[i], i, ctx.unit(org, name), {"unit_id": org})
    return batch


def _encounter_reasons(file: SyntheaFile | None) -> dict[str, str]:
    """Encounter Id -> REASONCODE: a condition with the encounter's reason code is its main diagnosis."""
    if file is None:
        return {}
    return {e: r.strip() for e, r in file.cols("ID", "REASONCODE") if r.strip()}


def _encounters(file: SyntheaFile, ctx: Context) -> Batch:
    batch = Batch("health_visit", file.name, shown=("visit_id", "person_id", "unit_id"), sources={
        "visit_id": file.label("ID"), "person_id": file.label("PATIENT"), "unit_id": file.label("ORGANIZATION"),
        "visit_date": file.label("START"), "visit_type": file.label("ENCOUNTERCLASS")})
    _broken(batch, file)
    positions = file.rows.positions.to_pylist()
    rows = file.cols("ID", "START", "STOP", "PATIENT", "ORGANIZATION", "ENCOUNTERCLASS")
    for i, (eid, start, stop, patient, org, kind) in enumerate(rows):
        visit_type = ctx.maps.visit_types.get(("synthea", kind.lower()))
        problem = _stop_problem(file, start, stop)
        if not eid:
            problem = Problem(file.label("ID"), "", "missing encounter Id")
        elif problem is None and visit_type is None:
            problem = Problem(file.label("ENCOUNTERCLASS"), kind, f"no visit_type for encounter class {kind!r} in "
                                                                  "encounter_class_to_visit_type.csv")
        if problem is not None:
            batch.reject(positions[i], i, problem)
            continue
        batch.add(positions[i], i, {"visit_id": ctx.visit_id(eid), "person_id": ctx.person_id(patient),
                                    "unit_id": ctx.unit_id(org), "visit_date": date_part(start),
                                    "visit_type": visit_type},
                  {"visit_id": eid, "person_id": patient, "unit_id": org})
    return batch


def _code_kind(system: str, known: dict[str, set[str]]) -> str | None:
    upper = system.strip().upper()
    for kind, names in known.items():
        if upper in names or (kind == "icd10" and ("ICD-10" in upper or "ICD10" in upper)):
            return kind
    return None


def _conditions(file: SyntheaFile, ctx: Context, reasons: dict[str, str]) -> Batch:
    batch = Batch("diagnosis", file.name, shown=("person_id", "visit_id"), sources={
        "person_id": file.label("PATIENT"), "visit_id": file.label("ENCOUNTER"), "diagnosis_date": file.label("START"),
        "icd10_code": file.label("CODE")})
    _broken(batch, file)
    positions = file.rows.positions.to_pylist()
    rows = file.cols("START", "STOP", "PATIENT", "ENCOUNTER", "SYSTEM", "CODE", "DESCRIPTION")
    for i, (start, stop, patient, encounter, system, code, term) in enumerate(rows):
        kind = _code_kind(system, {"snomed": _SNOMED, "icd10": set()})
        icd10, problem = condition_code(ctx.maps, kind or "", code, term.strip(), file.label("CODE"))
        if kind is None:
            icd10, problem = "", Problem(file.label("SYSTEM"), system, f"code system {system.strip()!r} is neither "
                                                                       "SNOMED CT nor ICD-10")
        if problem is None or not problem.excluded:
            problem = _stop_problem(file, start, stop) or problem
        if problem is not None:
            batch.reject(positions[i], i, problem)
            continue
        batch.add(positions[i], i, {
            "diagnosis_id": ctx.key("diagnosis", patient, encounter, kind or "", code, date_part(start)),
            "person_id": ctx.person_id(patient), "visit_id": ctx.visit_id(encounter),
            "diagnosis_date": date_part(start), "icd10_code": icd10,
            "is_primary": "true" if encounter and reasons.get(encounter) == code else "false"},
            {"person_id": patient, "visit_id": encounter})
    return batch


def _observations(file: SyntheaFile, ctx: Context) -> Batch:
    batch = Batch("measurement", file.name, shown=("person_id", "visit_id"), sources={
        "person_id": file.label("PATIENT"), "visit_id": file.label("ENCOUNTER"), "measured_on": file.label("DATE"),
        "code": file.label("CODE"), "value": file.label("VALUE"), "unit": file.label("UNITS")})
    _broken(batch, file)
    positions = file.rows.positions.to_pylist()
    rows = file.cols("DATE", "PATIENT", "ENCOUNTER", "CODE", "DESCRIPTION", "VALUE", "UNITS")
    for i, (when, patient, encounter, code, term, value, units) in enumerate(rows):
        converted, unit, problem = measurement(ctx.maps, code, term.strip(), value, units,
                                               code_column=file.label("CODE"), value_column=file.label("VALUE"),
                                               unit_column=file.label("UNITS"))
        if problem is not None:
            batch.reject(positions[i], i, problem)
            continue
        batch.add(positions[i], i, {
            "measurement_id": ctx.key("measurement", patient, encounter, key_time(when), code,
                                      number_text(value) or value.strip(), units.strip()),
            "person_id": ctx.person_id(patient), "visit_id": ctx.visit_id(encounter),
            "measured_on": date_part(when), "code": code, "value": converted, "unit": unit},
            {"person_id": patient, "visit_id": encounter})
    return batch


def _medications(file: SyntheaFile, ctx: Context) -> Batch:
    batch = Batch("prescription", file.name, shown=("person_id",), sources={
        "person_id": file.label("PATIENT"), "atc_code": file.label("CODE"), "start_date": file.label("START"),
        "end_date": file.label("STOP")})
    _broken(batch, file)
    positions = file.rows.positions.to_pylist()
    rows = file.cols("START", "STOP", "PATIENT", "ENCOUNTER", "SYSTEM", "CODE", "DESCRIPTION")
    for i, (start, stop, patient, encounter, system, code, term) in enumerate(rows):
        kind = _code_kind(system, {"rxnorm": _RXNORM, "atc": _ATC})
        problem = _stop_problem(file, start, stop)
        atc = ""
        if problem is None and kind is None:
            problem = Problem(file.label("SYSTEM"), system, f"code system {system.strip()!r} is neither RxNorm nor ATC")
        elif problem is None:
            atc, problem = drug_code(ctx.maps, kind or "", code, term.strip(), file.label("CODE"))
        end = date_part(stop)
        if problem is None and not end:
            began = parse_moment(date_part(start))
            if isinstance(began, date) and began > ctx.as_of:
                problem = Problem(file.label("STOP"), "", f"ongoing (no STOP) but START {start.strip()} is after "
                                                          f"the extract date {ctx.as_of.isoformat()}")
            else:
                end = ctx.as_of.isoformat()
                ctx.counts["ongoing"] += 1
        if problem is not None:
            batch.reject(positions[i], i, problem)
            continue
        batch.add(positions[i], i, {
            "prescription_id": ctx.key("prescription", patient, encounter, kind or "", code, key_time(start),
                                       key_time(stop)),
            "person_id": ctx.person_id(patient), "atc_code": atc, "start_date": date_part(start),
            "end_date": end}, {"person_id": patient})
    return batch
