"""The code mapping tables in ``catalogue/mappings/``: SNOMED CT → ICD-10, RxNorm → ATC, LOINC units,
encounter classes.

They are data, not code: each row carries its rationale, and every target code is checked against
the registry's code systems when the tables are read, so a typo in a mapping fails at once (with
file and line) instead of rejecting every row that uses it.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ennakoiva.domain.registry import CATALOGUE_DIR, Registry, default_registry

__all__ = ["MAPPINGS_DIR", "CodeMaps", "DrugTarget", "Finding", "UnitRule", "default_code_maps", "load_code_maps"]

MAPPINGS_DIR = CATALOGUE_DIR / "mappings"


@dataclass(frozen=True)
class Finding:
    """A SNOMED concept and its ICD-10 code; ``icd10`` empty: not a diagnosis, not imported."""

    term: str
    icd10: str
    rationale: str


@dataclass(frozen=True)
class DrugTarget:
    """An RxNorm drug and the ATC code of its substance(s)."""

    term: str
    atc: str


@dataclass(frozen=True)
class UnitRule:
    """How one source unit of one LOINC code becomes the registry unit."""

    description: str
    unit: str
    factor: float
    min: float
    max: float


@dataclass(frozen=True)
class CodeMaps:
    """Every mapping table, read and checked."""

    snomed: dict[str, Finding]
    rxnorm: dict[str, DrugTarget]
    loinc: dict[str, dict[str, UnitRule]]  # LOINC code -> source unit -> rule
    visit_types: dict[tuple[str, str], str]  # (system, class code) -> visit_type

    def loinc_units(self, code: str) -> str:
        """The source units accepted for ``code``, for messages."""
        return ", ".join(self.loinc.get(code, {}))


def _rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """(line, row) of a mapping CSV; lines starting with ``#`` before the header are comments."""
    with path.open(encoding="utf-8", newline="") as handle:
        lines = list(handle)
    start = 0
    while start < len(lines) and lines[start].startswith("#"):
        start += 1
    reader = csv.DictReader(lines[start:])
    for offset, row in enumerate(reader):
        yield start + 2 + offset, {k: (v or "").strip() for k, v in row.items()}


def _check(registry: Registry, system: str, code: str, where: str) -> None:
    if not registry.code_systems[system].is_valid(code):
        raise ValueError(f"{where}: {code!r} is not a valid {system} code "
                         f"({registry.code_systems[system].explain()})")


def _unique(seen: dict[str, int], key: str, line: int, where: str) -> None:
    if key in seen:
        raise ValueError(f"{where}: {key} is mapped twice (first on line {seen[key]})")
    seen[key] = line


def load_code_maps(directory: Path = MAPPINGS_DIR, registry: Registry | None = None) -> CodeMaps:
    """Read and check the four mapping tables in ``directory``."""
    registry = registry or default_registry()
    snomed: dict[str, Finding] = {}
    seen: dict[str, int] = {}
    path = directory / "snomed_to_icd10.csv"
    for line, row in _rows(path):
        where = f"{path.name}: line {line}"
        _unique(seen, row["snomed"], line, where)
        if row["icd10"]:
            _check(registry, "icd10", row["icd10"], where)
        if not row["rationale"]:
            raise ValueError(f"{where}: every mapping needs a rationale")
        snomed[row["snomed"]] = Finding(row["snomed_term"], row["icd10"], row["rationale"])
    rxnorm: dict[str, DrugTarget] = {}
    seen = {}
    path = directory / "rxnorm_to_atc.csv"
    for line, row in _rows(path):
        where = f"{path.name}: line {line}"
        _unique(seen, row["rxnorm"], line, where)
        _check(registry, "atc", row["atc"], where)
        if not row["rationale"]:
            raise ValueError(f"{where}: every mapping needs a rationale")
        rxnorm[row["rxnorm"]] = DrugTarget(row["rxnorm_term"], row["atc"])
    loinc: dict[str, dict[str, UnitRule]] = {}
    seen = {}
    path = directory / "loinc_measurements.csv"
    for line, row in _rows(path):
        where = f"{path.name}: line {line}"
        _unique(seen, f"{row['loinc']} in {row['source_unit']}", line, where)
        _check(registry, "loinc", row["loinc"], where)
        _check(registry, "unit_of_measure", row["unit"], where)
        try:
            rule = UnitRule(row["description"], row["unit"], float(row["factor"]), float(row["min"]),
                            float(row["max"]))
        except ValueError:
            raise ValueError(f"{where}: factor, min and max must be numbers") from None
        loinc.setdefault(row["loinc"], {})[row["source_unit"]] = rule
    visit_types: dict[tuple[str, str], str] = {}
    seen = {}
    path = directory / "encounter_class_to_visit_type.csv"
    for line, row in _rows(path):
        where = f"{path.name}: line {line}"
        _unique(seen, f"{row['system']} {row['code']}", line, where)
        _check(registry, "visit_type", row["visit_type"], where)
        visit_types[(row["system"], row["code"])] = row["visit_type"]
    return CodeMaps(snomed, rxnorm, loinc, visit_types)


@cache
def default_code_maps() -> CodeMaps:
    """The shipped mapping tables, read once."""
    return load_code_maps()
