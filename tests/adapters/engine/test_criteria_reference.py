"""A plain per-person Python evaluator of the condition tree, written apart from the SQL compiler.

It reads the event rows, walks each person's rows for each criterion, and must agree with the
compiled SQL on who matches and with how many points.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from criteria_support import CRITERIA_DDL

from ennakoiva.adapters.engine.criteria_sql import evaluate_criteria
from ennakoiva.adapters.engine.duckdb_engine import DuckDBEngine
from ennakoiva.domain.clock import age_on
from ennakoiva.domain.criteria import load_criteria
from ennakoiva.domain.criteria.durations import Duration, window_start
from ennakoiva.domain.criteria.tree import (
    AllOf,
    AnyOf,
    AnyValue,
    Bonus,
    CodeSet,
    CompiledCriterion,
    CountDays,
    DayTest,
    HasDiagnosis,
    HasPrescription,
    LatestValue,
    Named,
    Node,
    NoneOf,
    Population,
    Threshold,
)
from ennakoiva.domain.criteria.variants import criterion_variants

Row = tuple[Any, ...]
OPS: dict[str, Callable[[float, float], bool]] = {
    "lt": lambda a, b: a < b, "lte": lambda a, b: a <= b, "gt": lambda a, b: a > b, "gte": lambda a, b: a >= b}


def _in(cs: CodeSet, code: str) -> bool:
    code = code.replace(".", "")
    return any(code.startswith(c) for c in cs.include) and not any(code.startswith(c) for c in cs.exclude)


def _convert(value: float, unit: str, to: str) -> float | None:
    if unit == to:
        return value
    if (unit, to) == ("%", "mmol/mol"):
        return (value - 2.15) * 10.929
    return None


def _passes(t: Threshold, value: float | None) -> bool:
    return value is not None and all(OPS[op](value, v) for op, v in t.ops)


def _plus(d: date, dur: Duration) -> date:
    months = d.year * 12 + d.month - 1 + dur.total_months
    y, m = divmod(months, 12)
    day = min(d.day, [31, 29 if y % 4 == 0 and (y % 100 or y % 400 == 0) else 28, 31, 30, 31, 30, 31, 31, 30, 31,
                      30, 31][m])
    return date(y, m + 1, day) + timedelta(days=dur.days)


class Person:
    def __init__(self, on: date) -> None:
        self.on = on
        self.dx: list[Row] = []
        self.rx: list[Row] = []
        self.m: list[Row] = []

    def start(self, within: Duration | None) -> date:
        return date.min if within is None else window_start(self.on, within)

    def readings(self, within: Duration | None, excluded: tuple[str, ...]) -> list[Row]:
        lo = self.start(within)
        return [r for r in self.m if lo <= r[0] <= self.on and r[4] not in excluded]

    def holds(self, n: Node) -> bool:  # noqa: PLR0912 - one arm per node kind, as in the grammar
        if isinstance(n, Named):
            return self.holds(n.node)
        if isinstance(n, AllOf):
            return all(self.holds(c) for c in n.children)
        if isinstance(n, AnyOf):
            return any(self.holds(c) for c in n.children)
        if isinstance(n, NoneOf):
            return not any(self.holds(c) for c in n.children)
        if isinstance(n, HasDiagnosis):
            lo = self.start(n.within)
            k = sum(1 for d, code in self.dx if lo <= d <= self.on and _in(n.codes, code))
            return k >= n.at_least and (n.at_most is None or k <= n.at_most)
        if isinstance(n, HasPrescription):
            lo = self.start(n.within)
            k = sum(1 for atc, s, e in self.rx if s <= self.on and e >= lo and _in(n.codes, atc))
            return k >= n.at_least and (n.at_most is None or k <= n.at_most)
        if isinstance(n, AnyValue):
            days = [r[0] for r in self.readings(n.within, n.exclude_visit_types) if _in(n.codes, r[1])
                    and (n.threshold is None or _passes(n.threshold, _convert(r[2], r[3], n.threshold.unit)))]
            ok = len(days) >= n.at_least and (n.at_most is None or len(days) <= n.at_most)
            return ok and (n.min_span is None or (bool(days) and max(days) >= _plus(min(days), n.min_span)))
        if isinstance(n, LatestValue):
            rows = self.readings(n.within, n.exclude_visit_types)
            latest = max((r[0] for r in rows if _in(n.day_codes, r[1])), default=None)
            values = [_convert(r[2], r[3], n.threshold.unit) for r in rows if r[0] == latest and _in(n.codes, r[1])]
            present = [v for v in values if v is not None]
            if not present:
                return n.missing_is_hit
            return _passes(n.threshold, min(present) if n.same_day == "min" else max(present))
        assert isinstance(n, CountDays)
        by_day: dict[date, list[Row]] = defaultdict(list)
        for r in self.readings(n.within, n.exclude_visit_types):
            by_day[r[0]].append(r)
        agg = min if n.same_day == "min" else max
        hits = 0
        for rows in by_day.values():
            for t in n.tests:
                vals = [v for r in rows if _in(t.codes, r[1])
                        if (v := _convert(r[2], r[3], t.threshold.unit)) is not None]
                if vals and _passes(t.threshold, agg(vals)):
                    hits += 1
                    break
        return hits >= n.at_least and (n.at_most is None or hits <= n.at_most)


def _reference(engine: DuckDBEngine, criteria: list[CompiledCriterion], on: date) -> set[tuple[str, int, int]]:
    people: dict[int, Person] = defaultdict(lambda: Person(on))
    for pid, d, code in engine.con.execute("SELECT person_id, diagnosis_date, icd10_code FROM diagnosis").fetchall():
        people[pid].dx.append((d, code))
    for pid, atc, s, e in engine.con.execute(
            "SELECT person_id, atc_code, start_date, end_date FROM prescription").fetchall():
        people[pid].rx.append((atc, s, e))
    for pid, *row in engine.con.execute(
            "SELECT m.person_id, m.measured_on, m.code, m.value, m.unit, v.visit_type FROM measurement m "
            "LEFT JOIN health_visit v USING (visit_id)").fetchall():
        people[pid].m.append(tuple(row))
    out = set()
    persons = engine.con.execute(
        "SELECT person_id, birth_date, sex, death_date, move_out_date, moved_in_date FROM person").fetchall()
    for pid, birth, sex, death, move_out, moved_in in persons:
        if birth > on or (death and death <= on) or (move_out and move_out <= on) or (moved_in and moved_in > on):
            continue
        age, p = age_on(birth, on), people[pid]
        for c in criteria:
            pop = c.population
            if (pop.min_age is not None and age < pop.min_age) or (pop.max_age is not None and age > pop.max_age):
                continue
            if pop.sex != "any" and sex != ("F" if pop.sex == "female" else "M"):
                continue
            if p.holds(c.condition):
                out.add((c.id, pid, c.points + sum(b.add for b in c.bonuses if p.holds(b.when))))
    return out


def test_reference_evaluator_agrees_with_the_sql(small_city: Any) -> None:
    criteria = [c.compiled for c in load_criteria()]
    on = small_city.result.as_of
    with DuckDBEngine(small_city.db, read_only=True) as engine:
        sql = evaluate_criteria(engine, criteria, on)
        expected = _reference(engine, criteria, on)
    got = set(zip(sql["criterion_id"].to_pylist(), sql["person_id"].to_pylist(), sql["points"].to_pylist(),
                  strict=True))
    assert got == expected, (sorted(got - expected)[:5], sorted(expected - got)[:5])


# -- random populations and random criteria ---------------------------------------------------------

ON = date(2026, 11, 1)
SBP, DBP = CodeSet("sbp", "LOINC", ("8480-6",)), CodeSet("dbp", "LOINC", ("8462-4",))
HBA1C = CodeSet("hba1c", "LOINC", ("4548-4", "59261-8"))
EGFR = CodeSet("egfr", "LOINC", ("33914-3",))
DX_CODES = ["I10", "I11.9", "I48", "E11", "E11.9", "N18.3", "I25.1", "I63"]
RX_CODES = ["C09AA05", "C07AB02", "C10AA01", "B01AA03", "B01AE07"]
WINDOWS = [None, Duration(months=12), Duration(months=24), Duration(years=5), Duration(days=90)]


def _day(rng: random.Random, lo: int = 2019, hi: int = 2027) -> date:
    return date(lo, 1, 1) + timedelta(days=rng.randrange((date(hi, 6, 1) - date(lo, 1, 1)).days))


def _population(rng: random.Random, engine: DuckDBEngine) -> None:
    rows: dict[str, list[Row]] = defaultdict(list)
    rows["health_visit"] = [(v, rng.choice(["nurse", "doctor", "emergency", "inpatient"])) for v in range(20)]
    readings = [("8480-6", 110, 180, "mm[Hg]"), ("8462-4", 60, 110, "mm[Hg]"), ("4548-4", 5, 10, "%"),
                ("59261-8", 35, 90, "mmol/mol"), ("33914-3", 20, 100, "mL/min/1.73m2")]
    for pid in range(1, 41):
        gone = [None, None, None, _day(rng, 2025)]
        rows["person"].append((pid, _day(rng, 1935, 2010), rng.choice("FM"), rng.choice(gone), rng.choice(gone),
                               rng.choice(gone)))
        rows["diagnosis"] += [(pid, _day(rng), rng.choice(DX_CODES)) for _ in range(rng.randrange(4))]
        for _ in range(rng.randrange(4)):
            start = _day(rng, 2023)
            rows["prescription"].append((pid, rng.choice(RX_CODES), start,
                                         start + timedelta(days=rng.randrange(30, 400))))
        for _ in range(rng.randrange(8)):
            day, visit = _day(rng, 2023), rng.choice([None, *range(20)])
            code, lo, hi, unit = rng.choice(readings)
            rows["measurement"].append((pid, visit, rng.choice([day, day, _day(rng, 2025)]), code,
                                        float(round(rng.uniform(lo, hi))), unit))
    for ddl in CRITERIA_DDL:
        engine.con.execute(ddl)
    for table, values in rows.items():
        if values:
            engine.con.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * len(values[0]))})", values)


def _threshold(rng: random.Random, lo: float, hi: float, unit: str) -> Threshold:
    return Threshold(((rng.choice(["lt", "lte", "gt", "gte"]), float(round(rng.uniform(lo, hi)))),), unit)


def _atom(rng: random.Random) -> Node:
    kind = rng.randrange(5)
    excl = rng.choice([(), ("emergency", "inpatient")])
    counts = {"at_least": rng.choice([1, 1, 2]), "at_most": rng.choice([None, None, 2])}
    if kind == 0:
        codes = CodeSet("dx", "ICD10", tuple(rng.sample(["I10", "I11", "I48", "E11", "N18", "I2", "I6"], 2)),
                        rng.choice([(), ("I119",)]))
        return HasDiagnosis(codes, rng.choice(WINDOWS), **counts)
    if kind == 1:
        return HasPrescription(CodeSet("rx", "ATC", tuple(rng.sample(["C09", "C07", "C10AA", "B01AA", "B01AE07"], 2))),
                               rng.choice(WINDOWS), **counts)
    if kind == 2:
        codes, lo, hi, unit = rng.choice([(SBP, 120, 160, "mm[Hg]"), (DBP, 70, 100, "mm[Hg]"),
                                          (HBA1C, 40, 70, "mmol/mol")])
        return LatestValue(codes, rng.choice([codes, SBP]), rng.choice(WINDOWS), rng.choice(["min", "max"]), excl,
                           _threshold(rng, lo, hi, unit), rng.choice([True, False]))
    if kind == 3:
        return AnyValue(EGFR, rng.choice(WINDOWS), excl, rng.choice([None, _threshold(rng, 30, 70, "mL/min/1.73m2")]),
                        min_span=rng.choice([None, Duration(days=90)]), **counts)
    tests = (DayTest(SBP, _threshold(rng, 120, 160, "mm[Hg]")), DayTest(DBP, _threshold(rng, 70, 100, "mm[Hg]")))
    return CountDays(rng.choice(WINDOWS), excl, rng.choice(["min", "max"]), tests[: rng.randrange(1, 3)], **counts)


def _tree(rng: random.Random, depth: int = 0) -> Node:
    if depth >= 2 or rng.random() < 0.4:
        return _atom(rng)
    group = rng.choice([AllOf, AnyOf, NoneOf])
    return group(tuple(_tree(rng, depth + 1) for _ in range(rng.randrange(1, 4))))


def _criterion(rng: random.Random, i: int) -> CompiledCriterion:
    lo = rng.choice([None, 18, 65])
    return CompiledCriterion(
        id=f"random-{i}", version=1,
        population=Population(lo, rng.choice([None, 85]), rng.choice(["any", "female", "male"])),
        condition=_tree(rng), tier=rng.choice(["info", "warning", "critical"]), points=rng.randrange(100),
        bonuses=(Bonus(_atom(rng), 7),), action="invite-doctor", unit_type="health_station", evidence=())


@pytest.mark.parametrize("seed", range(20))
def test_random_criteria_on_random_populations(seed: int) -> None:
    rng = random.Random(seed)
    with DuckDBEngine(":memory:") as engine:
        _population(rng, engine)
        criteria = [_criterion(rng, i) for i in range(6)]
        sql = evaluate_criteria(engine, criteria, ON)
        expected = _reference(engine, criteria, ON)
    got = set(zip(sql["criterion_id"].to_pylist(), sql["person_id"].to_pylist(), sql["points"].to_pylist(),
                  strict=True))
    assert got == expected, (sorted(got - expected)[:5], sorted(expected - got)[:5])


def test_reference_evaluator_agrees_on_window_and_threshold_variants(small_city: Any) -> None:
    """Criteria differing only in windows and thresholds share feature columns; each keeps its own answer."""
    library = [c.compiled for c in load_criteria()]
    criteria = criterion_variants(library, 2 * len(library))
    on = small_city.result.as_of
    with DuckDBEngine(small_city.db, read_only=True) as engine:
        sql = evaluate_criteria(engine, criteria, on)
        expected = _reference(engine, criteria, on)
    got = set(zip(sql["criterion_id"].to_pylist(), sql["person_id"].to_pylist(), sql["points"].to_pylist(),
                  strict=True))
    assert got == expected, (sorted(got - expected)[:5], sorted(expected - got)[:5])
