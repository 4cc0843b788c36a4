"""Compile the condition trees of all criteria into one SQL query evaluated in a few passes.

Every distinct atom (a diagnosis in a window, a latest value, …) of every criterion becomes a
column of a per-person feature table computed with one aggregate per event table:

* ``dx``  — one pass over ``diagnosis``;
* ``rx``  — one pass over ``prescription``;
* ``m1``  — one pass over ``measurement`` (joined to ``health_visit`` for the visit type): counts,
  first/last dates and the latest day of every value atom;
* ``m2``  — the readings on those latest days (same-day lowest/highest, CMS165);
* ``md``  — per person and day aggregates, for "days on which …" counts.

Each criterion is then one boolean expression over the feature columns; matched persons come
back with their points and evidence. Dates and codes are validated before they reach SQL text, so
literals are inlined and the query is plain ANSI-ish SQL a Spark dialect can follow.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from ennakoiva.adapters.engine.duckdb_engine import DuckDBEngine
from ennakoiva.domain.criteria.durations import Duration, window_start
from ennakoiva.domain.criteria.tree import (
    AllOf,
    AnyOf,
    AnyValue,
    Atom,
    CodeSet,
    CompiledCriterion,
    CountDays,
    HasDiagnosis,
    HasPrescription,
    LatestValue,
    Named,
    Node,
    NoneOf,
    Threshold,
    atoms_of,
)
from ennakoiva.domain.criteria.units import CONVERSIONS

__all__ = ["RESULT_COLUMNS", "criteria_sql", "evaluate_criteria", "write_result"]

RESULT_COLUMNS = ("person_id", "criterion_id", "version", "tier", "points", "action", "unit_type", "evidence")
_TIER_RANK = {"info": 0, "warning": 1, "critical": 2}
_OPS = {"lt": "<", "lte": "<=", "gt": ">", "gte": ">="}


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _date(d: date) -> str:
    return f"DATE '{d.isoformat()}'"


def _codes(cs: CodeSet, col: str) -> str:
    inc = " OR ".join(f"starts_with({col}, {_lit(c)})" for c in cs.include)
    if not cs.exclude:
        return f"({inc})"
    exc = " OR ".join(f"starts_with({col}, {_lit(c)})" for c in cs.exclude)
    return f"(({inc}) AND NOT ({exc}))"


def _value_in(unit: str) -> str:
    """The reading's value in ``unit``, NULL where no conversion exists."""
    arms = [f"WHEN unit = {_lit(unit)} THEN value"]
    arms += [f"WHEN unit = {_lit(src)} THEN (value - {off!r}) * {scale!r}"
             for (src, dst), (off, scale) in CONVERSIONS.items() if dst == unit]
    return f"(CASE {' '.join(arms)} END)"


def _threshold(t: Threshold, expr: str) -> str:
    return "(" + " AND ".join(f"{expr} {_OPS[op]} {v!r}" for op, v in t.ops) + ")"


def _plus(d: str, dur: Duration) -> str:
    return f"({d} + INTERVAL {dur.years} YEAR + INTERVAL {dur.months} MONTH + INTERVAL {dur.days} DAY)"


def _count_ok(n: str, at_least: int, at_most: int | None) -> str:
    ok = f"coalesce({n}, 0) >= {at_least}"
    return ok if at_most is None else f"({ok} AND coalesce({n}, 0) <= {at_most})"


@dataclass
class _Plan:
    """Feature columns per pass, the boolean of each atom and its evidence columns."""

    on: date
    dx: list[str]
    rx: list[str]
    m1: list[str]
    m2: list[str]
    day_cols: list[str]
    days: list[str]
    test: dict[Atom, str]
    evidence: dict[Atom, list[tuple[str, str]]]
    exclusions: dict[tuple[str, ...], int]      # visit-type sets to exclude -> flag column number
    codes_read: dict[str, dict[CodeSet, None]]  # per event table: the code sets read (an ordered set)
    starts: list[date | None]                   # window start of each measurement atom (None: any day)

    def since(self, within: Duration | None, col: str) -> str:
        return "TRUE" if within is None else f"{col} >= {_date(window_start(self.on, within))}"

    def visit_ok(self, excluded: tuple[str, ...]) -> str:
        """A flag per distinct set: an anti-join against the few visits of those types, not a join of all."""
        if not excluded:
            return "TRUE"
        key = tuple(sorted(excluded))
        return f"NOT x{self.exclusions.setdefault(key, len(self.exclusions))}"

    def flag(self, table: str, cs: CodeSet) -> str:
        """The test that a row of ``table`` has a code in ``cs`` (and note the code set as read).

        Matched inline by prefix. With hundreds of criteria, classifying each distinct code once and
        joining the flags back is the next step; it was not measurably faster for the first eight.
        """
        self.codes_read.setdefault(table, {})[cs] = None
        return _codes(cs, "atc_code" if table == "rx" else "code")

    def reads(self, within: Duration | None) -> None:
        """Note the window of a measurement atom, so the measurement scan can skip older rows."""
        self.starts.append(window_start(self.on, within) if within is not None else None)

    def add(self, k: int, a: Atom) -> None:
        p = f"a{k}"
        if isinstance(a, HasDiagnosis):
            cond = f"{self.flag('dx', a.codes)} AND {self.since(a.within, 'diagnosis_date')}"
            self.dx += [f"count(*) FILTER (WHERE {cond}) AS {p}_n",
                        f"max(diagnosis_date) FILTER (WHERE {cond}) AS {p}_last"]
            self.test[a] = _count_ok(f"{p}_n", a.at_least, a.at_most)
            self.evidence[a] = [("count", f"coalesce({p}_n, 0)"), ("last_date", f"{p}_last")]
        elif isinstance(a, HasPrescription):
            codes = self.flag("rx", a.codes)
            self.rx += [f"count(*) FILTER (WHERE {codes} AND {self.since(a.within, 'end_date')}) AS {p}_n",
                        f"max(end_date) FILTER (WHERE {codes}) AS {p}_last_end"]
            self.test[a] = _count_ok(f"{p}_n", a.at_least, a.at_most)
            self.evidence[a] = [("count", f"coalesce({p}_n, 0)"), ("last_end", f"{p}_last_end")]
        elif isinstance(a, AnyValue):
            cond = (f"{self.flag('m', a.codes)} AND {self.since(a.within, 'day')} "
                    f"AND {self.visit_ok(a.exclude_visit_types)}")
            if a.threshold is not None:
                cond += f" AND {_threshold(a.threshold, _value_in(a.threshold.unit))}"
            self.reads(a.within)
            self.m1 += [f"count(*) FILTER (WHERE {cond}) AS {p}_n",
                        f"min(day) FILTER (WHERE {cond}) AS {p}_first",
                        f"max(day) FILTER (WHERE {cond}) AS {p}_last"]
            test = _count_ok(f"{p}_n", a.at_least, a.at_most)
            if a.min_span is not None:
                test = f"({test} AND coalesce({p}_last >= {_plus(f'{p}_first', a.min_span)}, FALSE))"
            self.test[a] = test
            self.evidence[a] = [("count", f"coalesce({p}_n, 0)"), ("first", f"{p}_first"), ("last", f"{p}_last")]
        elif isinstance(a, LatestValue):
            visit = self.visit_ok(a.exclude_visit_types)
            self.reads(a.within)
            self.m1.append(f"max(day) FILTER (WHERE {self.flag('m', a.day_codes)} AND "
                           f"{self.since(a.within, 'day')} AND {visit}) AS {p}_day")
            value = _value_in(a.threshold.unit)
            self.m2.append(f"{a.same_day}({value}) FILTER (WHERE {self.flag('m', a.codes)} AND {visit} "
                           f"AND day = {p}_day) AS {p}_val")
            hit = _threshold(a.threshold, f"{p}_val")
            self.test[a] = f"(CASE WHEN {p}_val IS NULL THEN {str(a.missing_is_hit).upper()} ELSE {hit} END)"
            self.evidence[a] = [("value", f"{p}_val"), ("date", f"{p}_day")]
        else:
            self.add_days(p, a)

    def add_days(self, p: str, a: CountDays) -> None:
        base = f"{self.since(a.within, 'day')} AND {self.visit_ok(a.exclude_visit_types)}"
        tests = []
        self.reads(a.within)
        for j, t in enumerate(a.tests):
            col = f"{p}_t{j}"
            self.day_cols.append(f"{a.same_day}({_value_in(t.threshold.unit)}) FILTER "
                                 f"(WHERE {self.flag('m', t.codes)} AND {base}) AS {col}")
            tests.append(f"coalesce({_threshold(t.threshold, col)}, FALSE)")
        self.days.append(f"count(*) FILTER (WHERE {' OR '.join(tests)}) AS {p}_days")
        self.test[a] = _count_ok(f"{p}_days", a.at_least, a.at_most)
        self.evidence[a] = [("days", f"coalesce({p}_days, 0)")]


def _bool(node: Node, plan: _Plan) -> str:
    if isinstance(node, Named):
        return _bool(node.node, plan)
    if isinstance(node, AllOf):
        return "(" + " AND ".join(_bool(c, plan) for c in node.children) + ")"
    if isinstance(node, AnyOf):
        return "(" + " OR ".join(_bool(c, plan) for c in node.children) + ")"
    if isinstance(node, NoneOf):
        return "(NOT (" + " OR ".join(_bool(c, plan) for c in node.children) + "))"
    return plan.test[node]


def _population(c: CompiledCriterion) -> str:
    parts = ["resident"]
    if c.population.min_age is not None:
        parts.append(f"age >= {c.population.min_age}")
    if c.population.max_age is not None:
        parts.append(f"age <= {c.population.max_age}")
    if c.population.sex != "any":
        parts.append(f"sex = {_lit('F' if c.population.sex == 'female' else 'M')}")
    return " AND ".join(parts)


def _evidence(c: CompiledCriterion, plan: _Plan) -> str:
    pairs: list[str] = []
    for named in c.evidence:
        inner = atoms_of(named.node)
        for i, atom in enumerate(inner):
            label = named.name if len(inner) == 1 else f"{named.name}.{i}"
            for key, expr in plan.evidence[atom]:
                pairs += [_lit(f"{label}.{key}"), expr]
    return f"json_object({', '.join(pairs)})" if pairs else "'{}'"


def _pass(name: str, cols: list[str], source: str, group: str = "person_id") -> str:
    return f"{name} AS (SELECT {group}, {', '.join(cols)} FROM {source} GROUP BY {group})"


def _measurements(plan: _Plan, on_sql: str, one: str) -> list[str]:
    """``m``: the measurement rows any atom can read, with one excluded-visit flag per visit-type set."""
    ctes, flags, joins = [], [], []
    for types, i in plan.exclusions.items():
        ctes.append(f"x{i} AS (SELECT visit_id FROM health_visit WHERE visit_type IN ({', '.join(map(_lit, types))}))")
        flags.append(f", (x{i}.visit_id IS NOT NULL) AS x{i}")
        joins.append(f" LEFT JOIN x{i} ON x{i}.visit_id = ms.visit_id")
    read = " OR ".join(_codes(cs, "ms.code") for cs in plan.codes_read["m"])
    where = [f"{one.replace('person_id', 'ms.person_id')}ms.measured_on <= {on_sql}", f"({read})"]
    if plan.starts and None not in plan.starts:
        where.append(f"ms.measured_on >= {_date(min(d for d in plan.starts if d is not None))}")
    ctes.append(f"m AS (SELECT ms.person_id, ms.measured_on AS day, ms.code, ms.value, ms.unit"
                f"{''.join(flags)} FROM measurement ms{''.join(joins)} "
                f"WHERE {' AND '.join(where)})")
    return ctes


def criteria_sql(criteria: Sequence[CompiledCriterion], on: date, person_id: int | None = None) -> str:
    """One query: per matched (person, criterion), the points and the evidence as JSON.

    With ``person_id``, only that person is evaluated (``explain``); the answer is the same row the
    whole-population run gives for them.
    """
    if not criteria:
        raise ValueError("no criteria to evaluate")
    ids = [c.id for c in criteria]
    if len(set(ids)) != len(ids):
        raise ValueError(f"duplicate criterion ids: {sorted({i for i in ids if ids.count(i) > 1})}")
    plan = _Plan(on, [], [], [], [], [], [], {}, {}, {}, {}, [])
    atoms: list[Atom] = []
    for c in criteria:
        for node in (c.condition, *(b.when for b in c.bonuses)):
            atoms += [a for a in atoms_of(node) if a not in atoms]
    for k, a in enumerate(atoms):
        plan.add(k, a)
    on_sql = _date(on)
    ctes = [
        f"pop AS (SELECT person_id, sex, (year({on_sql}) - year(birth_date) - CASE WHEN month(birth_date) > "
        f"{on.month} OR (month(birth_date) = {on.month} AND day(birth_date) > {on.day}) THEN 1 ELSE 0 END) AS age, "
        f"(birth_date <= {on_sql} AND (death_date IS NULL OR death_date > {on_sql}) "
        f"AND (move_out_date IS NULL OR move_out_date > {on_sql}) "
        f"AND (moved_in_date IS NULL OR moved_in_date <= {on_sql})) AS resident FROM person"
        + ("" if person_id is None else f" WHERE person_id = {int(person_id)}") + ")",
    ]
    one = "" if person_id is None else f"person_id = {int(person_id)} AND "
    joins = []
    if plan.dx:
        ctes.append(_pass("dx", plan.dx, f"(SELECT person_id, diagnosis_date, replace(icd10_code, '.', '') AS code "
                                         f"FROM diagnosis WHERE {one}diagnosis_date <= {on_sql})"))
        joins.append("dx")
    if plan.rx:
        ctes.append(_pass("rx", plan.rx, f"(SELECT person_id, atc_code, end_date FROM prescription "
                                         f"WHERE {one}start_date <= {on_sql})"))
        joins.append("rx")
    if plan.m1 or plan.days:
        ctes += _measurements(plan, on_sql, one)
    if plan.m1:
        ctes.append(_pass("m1", plan.m1, "m"))
        joins.append("m1")
    if plan.m2:
        latest_days = ", ".join(f"a{k}_day" for k, a in enumerate(atoms) if isinstance(a, LatestValue))
        ctes.append(_pass("m2", plan.m2, f"(SELECT m.*, m1.* EXCLUDE (person_id) FROM m JOIN m1 USING (person_id) "
                                         f"WHERE m.day IN ({latest_days}))"))
        joins.append("m2")
    if plan.days:
        ctes.append(_pass("md0", plan.day_cols, "m", "person_id, day"))
        ctes.append(_pass("md", plan.days, "md0"))
        joins.append("md")
    feature_from = "pop" + "".join(f" LEFT JOIN {j} USING (person_id)" for j in joins)
    hits = []
    for c in criteria:
        points = str(c.points) + "".join(f" + CASE WHEN {_bool(b.when, plan)} THEN {b.add} ELSE 0 END"
                                         for b in c.bonuses)
        hits.append(
            f"SELECT person_id, {_lit(c.id)} AS criterion_id, {c.version} AS version, {_lit(c.tier)} AS tier, "
            f"{points} AS points, {_lit(c.action)} AS action, {_lit(c.unit_type)} AS unit_type, "
            f"{_evidence(c, plan)} AS evidence, {_TIER_RANK[c.tier]} AS tier_rank "
            f"FROM f WHERE {_population(c)} AND {_bool(c.condition, plan)}")
    ctes.append(f"f AS MATERIALIZED (SELECT * FROM {feature_from})")
    return (f"WITH {', '.join(ctes)} SELECT {', '.join(RESULT_COLUMNS)} FROM ({' UNION ALL '.join(hits)}) "
            f"ORDER BY criterion_id, tier_rank DESC, points DESC, person_id")


def evaluate_criteria(engine: DuckDBEngine, criteria: Sequence[CompiledCriterion], on: date,
                      person_id: int | None = None) -> pa.Table:
    """Every criterion for everyone (or one person) on ``on``: one row per matched person and criterion."""
    return engine.sql(criteria_sql(criteria, on, person_id))


def write_result(result: pa.Table, out: Path) -> None:
    """Write a result as Parquet (``.parquet``) or CSV (anything else)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".parquet":
        pq.write_table(result, out)
    else:
        pa_csv.write_csv(result, out)
