"""Run the fixtures of criterion files through the same compiled SQL as a whole-city run.

Each case becomes one person in a small in-memory database holding only the columns the criteria
SQL reads, so a fixture exercises exactly the code path production uses.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from ennakoiva.adapters.engine.criteria_sql import evaluate_criteria
from ennakoiva.adapters.engine.duckdb_engine import DuckDBEngine
from ennakoiva.domain.criteria.catalogue import LoadedCriterion
from ennakoiva.domain.criteria.fixtures import FixtureCase, birth_for_age

__all__ = ["CRITERIA_COLUMNS_DDL", "FixtureOutcome", "run_fixtures"]

#: The columns the criteria SQL reads, as a schema for fixtures and hand-written cases.
CRITERIA_COLUMNS_DDL = (
    "CREATE TABLE person (person_id BIGINT, birth_date DATE, sex VARCHAR, death_date DATE, move_out_date DATE, "
    "moved_in_date DATE)",
    "CREATE TABLE diagnosis (person_id BIGINT, diagnosis_date DATE, icd10_code VARCHAR)",
    "CREATE TABLE prescription (person_id BIGINT, atc_code VARCHAR, start_date DATE, end_date DATE)",
    "CREATE TABLE health_visit (visit_id BIGINT, visit_type VARCHAR)",
    "CREATE TABLE measurement (person_id BIGINT, visit_id BIGINT, measured_on DATE, code VARCHAR, value DOUBLE, "
    "unit VARCHAR)",
)


@dataclass(frozen=True)
class FixtureOutcome:
    criterion_id: str
    case: str
    expected: str
    got: str
    expected_points: int | None
    points: int | None
    evidence: dict[str, object]

    @property
    def passed(self) -> bool:
        return self.expected == self.got and (self.expected_points is None or self.expected_points == self.points)

    def describe(self) -> str:
        want = self.expected + ("" if self.expected_points is None else f" with {self.expected_points} points")
        got = self.got + ("" if self.points is None else f" with {self.points} points")
        return f"{self.criterion_id} / {self.case}: expected {want}, got {got}"


def _load_case(engine: DuckDBEngine, pid: int, case: FixtureCase, born: date) -> None:
    p = case.person
    con = engine.con
    con.execute("INSERT INTO person VALUES (?, ?, ?, ?, ?, NULL)", [pid, born, p.sex, p.died, p.moved_out])
    if case.diagnoses:
        con.executemany("INSERT INTO diagnosis VALUES (?, ?, ?)", [[pid, d.on, d.code] for d in case.diagnoses])
    if case.prescriptions:
        con.executemany("INSERT INTO prescription VALUES (?, ?, ?, ?)",
                        [[pid, r.code, r.start, r.end] for r in case.prescriptions])
    for i, m in enumerate(case.measurements):
        visit = None
        if m.visit != "home":
            visit = pid * 1000 + i
            con.execute("INSERT INTO health_visit VALUES (?, ?)", [visit, m.visit])
        con.execute("INSERT INTO measurement VALUES (?, ?, ?, ?, ?, ?)", [pid, visit, m.on, m.code, m.value, m.unit])


def run_fixtures(criteria: Sequence[LoadedCriterion]) -> list[FixtureOutcome]:
    """Every fixture case of every criterion that has ``tests:``; one outcome per case."""
    outcomes: list[FixtureOutcome] = []
    for loaded in criteria:
        tests = loaded.spec.tests
        if tests is None:
            continue
        with DuckDBEngine(":memory:") as engine:
            for ddl in CRITERIA_COLUMNS_DDL:
                engine.con.execute(ddl)
            for pid, case in enumerate(tests.cases, start=1):
                age, born = case.person.age, case.person.born
                _load_case(engine, pid, case, born if born is not None else birth_for_age(age or 0, tests.on))
            rows = {r["person_id"]: r for r in evaluate_criteria(engine, [loaded.compiled], tests.on).to_pylist()}
        for pid, case in enumerate(tests.cases, start=1):
            row = rows.get(pid)
            outcomes.append(FixtureOutcome(
                loaded.compiled.id, case.name, case.expect, "hit" if row else "no_hit", case.points,
                row["points"] if row else None, json.loads(row["evidence"]) if row else {}))
    return outcomes
