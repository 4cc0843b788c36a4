"""Compile the condition trees of all criteria into SQL evaluated in a few passes.

Every distinct atom (a diagnosis in a window, a latest value, …) of every criterion becomes a
column of a per-person feature table computed with one aggregate per event table and code set:

* ``dxc``/``rxc``/``mc`` — each *distinct* code of an event table classified once against every
  code set the criteria read (a few hundred codes, not millions of rows); event rows join to it
  on the code, so a row's code-set flags cost one hash probe however many criteria there are;
* ``dx<j>``/``rx<j>`` — per code set ``j``, one aggregate over the diagnosis or prescription rows
  of that set only, with a column pair per atom on it;
* ``m1_<j>`` — the same over ``measurement`` (excluded visit types flagged by an anti-join against
  the few such visits): counts, first/last dates and the latest day of every value atom;
* ``m2_<j>`` — the readings on those latest days (same-day lowest/highest, CMS165);
* ``md``  — per person and day aggregates, for "days on which …" counts.

Every criterion is then one boolean over the feature columns. :func:`evaluate_criteria` writes the
features to a temporary table (in person partitions when it would be large) and evaluates the
criteria over it in batches; :func:`criteria_sql` is the same as one statement. Dates and codes are
validated before they reach SQL text, so literals are inlined and the SQL is plain ANSI-ish SQL a
Spark dialect can follow.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from uuid import uuid4

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


def _agg(expr: str, cond: str, name: str) -> str:
    return f"{expr} AS {name}" if cond == "TRUE" else f"{expr} FILTER (WHERE {cond}) AS {name}"


def _and(*conds: str) -> str:
    kept = [c for c in conds if c != "TRUE"]
    return " AND ".join(kept) if kept else "TRUE"


Groups = dict[int, list[str]]


@dataclass
class _Plan:
    """Feature columns per pass and code-set group, the boolean of each atom and its evidence columns.

    An atom's aggregates are computed over the rows of its code set only (``dx3`` aggregates the
    diagnosis rows in code set 3), so the work is the rows of each code set times the atoms on it,
    not every row times every atom.
    """

    on: date
    dx: Groups = field(default_factory=dict)
    rx: Groups = field(default_factory=dict)
    m1: Groups = field(default_factory=dict)
    m2: Groups = field(default_factory=dict)
    m2_days: Groups = field(default_factory=dict)    # per m2 group: the latest-day columns it reads
    day_cols: list[str] = field(default_factory=list)
    day_flags: dict[str, None] = field(default_factory=dict)  # code-set flags the day counts read
    days: list[str] = field(default_factory=list)
    test: dict[Atom, str] = field(default_factory=dict)
    evidence: dict[Atom, list[tuple[str, str]]] = field(default_factory=dict)
    exclusions: dict[tuple[str, ...], int] = field(default_factory=dict)  # excluded visit types -> flag
    codes_read: dict[str, dict[CodeSet, int]] = field(default_factory=dict)  # table: code set -> flag
    starts: list[date | None] = field(default_factory=list)  # window start of each measurement atom

    def since(self, within: Duration | None, col: str) -> str:
        return "TRUE" if within is None else f"{col} >= {_date(window_start(self.on, within))}"

    def visit_ok(self, excluded: tuple[str, ...]) -> str:
        """A flag per distinct set: an anti-join against the few visits of those types, not a join of all."""
        if not excluded:
            return "TRUE"
        key = tuple(sorted(excluded))
        return f"NOT x{self.exclusions.setdefault(key, len(self.exclusions))}"

    def group(self, table: str, cs: CodeSet) -> int:
        """The number of ``cs`` among the code sets read from ``table`` (its flag column is ``k<n>``).

        Each distinct code set read from a table gets one column of that table's code dictionary
        (``_dictionary``), so equal code sets of different criteria share it and its pass.
        """
        flags = self.codes_read.setdefault(table, {})
        return flags.setdefault(cs, len(flags))

    def reads(self, within: Duration | None) -> None:
        """Note the window of a measurement atom, so the measurement scan can skip older rows."""
        self.starts.append(window_start(self.on, within) if within is not None else None)

    def add(self, k: int, a: Atom) -> None:
        p = f"a{k}"
        if isinstance(a, HasDiagnosis):
            cond = self.since(a.within, "diagnosis_date")
            self.dx.setdefault(self.group("dx", a.codes), []).extend(
                [_agg("count(*)", cond, f"{p}_n"), _agg("max(diagnosis_date)", cond, f"{p}_last")])
            self.test[a] = _count_ok(f"{p}_n", a.at_least, a.at_most)
            self.evidence[a] = [("count", f"coalesce({p}_n, 0)"), ("last_date", f"{p}_last")]
        elif isinstance(a, HasPrescription):
            self.rx.setdefault(self.group("rx", a.codes), []).extend(
                [_agg("count(*)", self.since(a.within, "end_date"), f"{p}_n"), f"max(end_date) AS {p}_last_end"])
            self.test[a] = _count_ok(f"{p}_n", a.at_least, a.at_most)
            self.evidence[a] = [("count", f"coalesce({p}_n, 0)"), ("last_end", f"{p}_last_end")]
        elif isinstance(a, AnyValue):
            cond = _and(self.since(a.within, "day"), self.visit_ok(a.exclude_visit_types))
            if a.threshold is not None:
                cond = _and(cond, _threshold(a.threshold, _value_in(a.threshold.unit)))
            self.reads(a.within)
            self.m1.setdefault(self.group("m", a.codes), []).extend(
                [_agg("count(*)", cond, f"{p}_n"), _agg("min(day)", cond, f"{p}_first"),
                 _agg("max(day)", cond, f"{p}_last")])
            test = _count_ok(f"{p}_n", a.at_least, a.at_most)
            if a.min_span is not None:
                test = f"({test} AND coalesce({p}_last >= {_plus(f'{p}_first', a.min_span)}, FALSE))"
            self.test[a] = test
            self.evidence[a] = [("count", f"coalesce({p}_n, 0)"), ("first", f"{p}_first"), ("last", f"{p}_last")]
        elif isinstance(a, LatestValue):
            visit = self.visit_ok(a.exclude_visit_types)
            self.reads(a.within)
            self.m1.setdefault(self.group("m", a.day_codes), []).append(
                _agg("max(day)", _and(self.since(a.within, "day"), visit), f"{p}_day"))
            g = self.group("m", a.codes)
            self.m2.setdefault(g, []).append(
                _agg(f"{a.same_day}({_value_in(a.threshold.unit)})", _and(visit, f"day = {p}_day"), f"{p}_val"))
            self.m2_days.setdefault(g, []).append(f"{p}_day")
            hit = _threshold(a.threshold, f"{p}_val")
            self.test[a] = f"(CASE WHEN {p}_val IS NULL THEN {str(a.missing_is_hit).upper()} ELSE {hit} END)"
            self.evidence[a] = [("value", f"{p}_val"), ("date", f"{p}_day")]
        else:
            self.add_days(p, a)

    def add_days(self, p: str, a: CountDays) -> None:
        base = _and(self.since(a.within, "day"), self.visit_ok(a.exclude_visit_types))
        tests = []
        self.reads(a.within)
        for j, t in enumerate(a.tests):
            col = f"{p}_t{j}"
            flag = f"k{self.group('m', t.codes)}"
            self.day_flags[flag] = None
            self.day_cols.append(_agg(f"{a.same_day}({_value_in(t.threshold.unit)})", _and(flag, base), col))
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


def _dictionary(name: str, plan: _Plan, table: str, code_sql: str, source: str) -> str:
    """``name``: each distinct code of ``source`` that any code set matches, with one flag per code set."""
    sets = plan.codes_read[table]
    flags = ", ".join(f"{_codes(cs, 'code')} AS k{i}" for cs, i in sets.items())
    any_set = " OR ".join(_codes(cs, "code") for cs in sets)
    return (f"{name} AS (SELECT code, {flags} FROM (SELECT DISTINCT {code_sql} AS code FROM {source}) "
            f"WHERE {any_set})")


def _flag_cols(plan: _Plan, table: str, alias: str) -> str:
    return ", ".join(f"{alias}.k{i}" for i in plan.codes_read[table].values())


def _measurements(plan: _Plan, on_sql: str, one: str) -> list[str]:
    """``m``: the measurement rows any atom can read, with one excluded-visit flag per visit-type set."""
    ctes, flags, joins = [], [], []
    for types, i in plan.exclusions.items():
        ctes.append(f"x{i} AS (SELECT visit_id FROM health_visit WHERE visit_type IN ({', '.join(map(_lit, types))}))")
        flags.append(f", (x{i}.visit_id IS NOT NULL) AS x{i}")
        joins.append(f" LEFT JOIN x{i} ON x{i}.visit_id = ms.visit_id")
    ctes.append(_dictionary("mc", plan, "m", "code", "measurement"))
    where = [f"{one.replace('person_id', 'ms.person_id')}ms.measured_on <= {on_sql}"]
    if plan.starts and None not in plan.starts:
        where.append(f"ms.measured_on >= {_date(min(d for d in plan.starts if d is not None))}")
    ctes.append(f"m AS MATERIALIZED (SELECT ms.person_id, ms.measured_on AS day, ms.value, ms.unit, "
                f"{_flag_cols(plan, 'm', 'c')}{''.join(flags)} "
                f"FROM measurement ms JOIN mc c ON c.code = ms.code{''.join(joins)} "
                f"WHERE {' AND '.join(where)})")
    return ctes


def _branch(c: CompiledCriterion, plan: _Plan, features: str) -> str:
    """The persons ``c`` matches in the feature table ``features``, with points and evidence."""
    points = str(c.points) + "".join(f" + CASE WHEN {_bool(b.when, plan)} THEN {b.add} ELSE 0 END"
                                     for b in c.bonuses)
    return (f"SELECT person_id, {_lit(c.id)} AS criterion_id, {c.version} AS version, {_lit(c.tier)} AS tier, "
            f"CAST({points} AS INTEGER) AS points, {_lit(c.action)} AS action, {_lit(c.unit_type)} AS unit_type, "
            f"CAST({_evidence(c, plan)} AS VARCHAR) AS evidence, {_TIER_RANK[c.tier]} AS tier_rank "
            f"FROM {features} WHERE {_population(c)} AND {_bool(c.condition, plan)}")


def _grouped(name: str, groups: Groups, rows: str) -> list[str]:
    """One aggregate per code-set group over that group's rows only."""
    return [f"{name}{j} AS (SELECT person_id, {', '.join(cols)} FROM {rows} WHERE k{j} GROUP BY person_id)"
            for j, cols in groups.items()]


def _passes(plan: _Plan, on_sql: str, one: str) -> tuple[list[str], list[str], list[str]]:
    """The CTEs of the passes over the event tables; the per-person ones to join before and after ``m2``."""
    ctes: list[str] = []
    if plan.dx:
        ctes.append(_dictionary("dxc", plan, "dx", "replace(icd10_code, '.', '')", "diagnosis"))
        ctes.append(f"dxr AS MATERIALIZED (SELECT d.person_id, d.diagnosis_date, {_flag_cols(plan, 'dx', 'c')} "
                    f"FROM diagnosis d JOIN dxc c ON c.code = replace(d.icd10_code, '.', '') "
                    f"WHERE {one.replace('person_id', 'd.person_id')}d.diagnosis_date <= {on_sql})")
        ctes += _grouped("dx", plan.dx, "dxr")
    if plan.rx:
        ctes.append(_dictionary("rxc", plan, "rx", "atc_code", "prescription"))
        ctes.append(f"rxr AS MATERIALIZED (SELECT r.person_id, r.end_date, {_flag_cols(plan, 'rx', 'c')} "
                    f"FROM prescription r JOIN rxc c ON c.code = r.atc_code "
                    f"WHERE {one.replace('person_id', 'r.person_id')}r.start_date <= {on_sql})")
        ctes += _grouped("rx", plan.rx, "rxr")
    if plan.m1 or plan.days:
        ctes += _measurements(plan, on_sql, one)
    ctes += _grouped("m1_", plan.m1, "m")
    before = [f"dx{j}" for j in plan.dx] + [f"rx{j}" for j in plan.rx] + [f"m1_{j}" for j in plan.m1]
    if plan.days:
        ctes.append(_pass("md0", plan.day_cols, f"(SELECT * FROM m WHERE {' OR '.join(plan.day_flags)})",
                          "person_id, day"))
        ctes.append(_pass("md", plan.days, "md0"))
        before.append("md")
    for j, cols in plan.m2.items():
        days = plan.m2_days[j]
        ctes.append(f"m2_{j} AS (SELECT person_id, {', '.join(cols)} FROM m JOIN (SELECT person_id, {', '.join(days)} "
                    f"FROM f1 WHERE {' OR '.join(f'{d} IS NOT NULL' for d in days)}) d USING (person_id) "
                    f"WHERE k{j} AND day IN ({', '.join(days)}) GROUP BY person_id)")
    return ctes, before, [f"m2_{j}" for j in plan.m2]


def _who(person_id: int | None, part: tuple[int, int] | None) -> str:
    """A ``person_id`` predicate (with a trailing AND): one person, one partition of persons, or everyone."""
    if person_id is not None:
        return f"person_id = {int(person_id)} AND "
    if part is not None:
        i, k = part
        return f"((person_id % {int(k)}) + {int(k)}) % {int(k)} = {int(i)} AND "
    return ""


def _features(criteria: Sequence[CompiledCriterion], on: date, person_id: int | None,
              part: tuple[int, int] | None = None) -> tuple[list[str], _Plan]:
    """The CTEs ending in ``f`` (one row per person, one column per feature) and the plan behind them.

    ``part = (i, k)`` keeps the persons whose id is ``i`` modulo ``k``.
    """
    if not criteria:
        raise ValueError("no criteria to evaluate")
    ids = [c.id for c in criteria]
    if len(set(ids)) != len(ids):
        raise ValueError(f"duplicate criterion ids: {sorted({i for i in ids if ids.count(i) > 1})}")
    plan = _Plan(on)
    atoms: list[Atom] = []
    seen: set[Atom] = set()
    for c in criteria:
        for node in (c.condition, *(b.when for b in c.bonuses)):
            for a in atoms_of(node):
                if a not in seen:
                    seen.add(a)
                    atoms.append(a)
    for k, a in enumerate(atoms):
        plan.add(k, a)
    on_sql = _date(on)
    ctes = [
        f"pop AS (SELECT person_id, sex, (year({on_sql}) - year(birth_date) - CASE WHEN month(birth_date) > "
        f"{on.month} OR (month(birth_date) = {on.month} AND day(birth_date) > {on.day}) THEN 1 ELSE 0 END) AS age, "
        f"(birth_date <= {on_sql} AND (death_date IS NULL OR death_date > {on_sql}) "
        f"AND (move_out_date IS NULL OR move_out_date > {on_sql}) "
        f"AND (moved_in_date IS NULL OR moved_in_date <= {on_sql})) AS resident FROM person"
        + (f" WHERE {_who(person_id, part).removesuffix(' AND ')}" if _who(person_id, part) else "") + ")",
    ]
    one = _who(person_id, part)
    more, before, after = _passes(plan, on_sql, one)
    ctes += [c for c in more if not c.startswith("m2_")]
    f1 = "pop" + "".join(f" LEFT JOIN {j} USING (person_id)" for j in before)
    if after:  # the latest-day readings need the latest days of f1 first
        ctes.append(f"f1 AS MATERIALIZED (SELECT * FROM {f1})")
        ctes += [c for c in more if c.startswith("m2_")]
        ctes.append("f AS (SELECT * FROM f1" + "".join(f" LEFT JOIN {j} USING (person_id)" for j in after) + ")")
    else:
        ctes.append(f"f AS (SELECT * FROM {f1})")
    return ctes, plan


_ORDER = "criterion_id, tier_rank DESC, points DESC, person_id"


def criteria_sql(criteria: Sequence[CompiledCriterion], on: date, person_id: int | None = None) -> str:
    """One query: per matched (person, criterion), the points and the evidence as JSON.

    A single statement, to embed as a subquery (proactive-service triggers use a few criteria);
    :func:`evaluate_criteria` stages the same features and branches for hundreds of criteria.
    With ``person_id``, only that person is evaluated (``explain``); the answer is the same row the
    whole-population run gives for them.
    """
    ctes, plan = _features(criteria, on, person_id)
    ctes[-1] = ctes[-1].replace("f AS (", "f AS MATERIALIZED (", 1)
    branches = " UNION ALL ".join(_branch(c, plan, "f") for c in criteria)
    return f"WITH {', '.join(ctes)} SELECT {', '.join(RESULT_COLUMNS)} FROM ({branches}) ORDER BY {_ORDER}"


_SHARED = re.compile(r"^(dxc|rxc|mc|x[0-9]+) AS \(")
#: Feature cells (persons x columns) per temporary table (about 2.4 GB); more run in partitions.
CELLS_PER_PARTITION = 300_000_000


def _feature_columns(plan: _Plan) -> int:
    groups = (*plan.dx.values(), *plan.rx.values(), *plan.m1.values(), *plan.m2.values())
    return 3 + sum(len(g) for g in groups) + len(plan.days)


def evaluate_criteria(engine: DuckDBEngine, criteria: Sequence[CompiledCriterion], on: date,
                      person_id: int | None = None, *, batch: int = 25,
                      partitions: int | None = None) -> pa.Table:
    """Every criterion for everyone (or one person) on ``on``: one row per matched person and criterion.

    The features are computed into a temporary table (one pass per event table), then the criteria
    are evaluated over it ``batch`` at a time: one statement with hundreds of criteria costs the
    planner more than the whole evaluation. When persons x feature columns would exceed
    :data:`CELLS_PER_PARTITION`, the persons are split into ``partitions`` by id (default: enough to
    stay under it), each a pass of its own, so memory stays bounded whatever the city's size.
    """
    _, plan = _features(criteria, on, person_id)
    if partitions is None:
        persons = 1 if person_id is not None else int(engine.sql("SELECT count(*) AS n FROM person")["n"][0].as_py())
        partitions = max(1, -(-persons * _feature_columns(plan) // CELLS_PER_PARTITION))
    # DuckDB's progress bar writes to stdout, which would corrupt ``--json`` output of a long run
    bar = engine.con.execute("SELECT current_setting('enable_progress_bar')").fetchone()
    engine.con.execute("SET enable_progress_bar = false")
    parts: list[pa.Table] = []
    shared: list[str] = []  # code dictionaries and excluded visits: the same for every partition, built once
    try:
        if partitions > 1:
            for cte in _features(criteria, on, person_id)[0]:
                if (m := _SHARED.match(cte)) is not None:
                    engine.con.execute(f"CREATE OR REPLACE TEMP TABLE {m[1]} AS {cte[m.end():-1]}")
                    shared.append(cte)
        for i in range(partitions):
            ctes, plan = _features(criteria, on, person_id, (i, partitions) if partitions > 1 else None)
            ctes = [c for c in ctes if c not in shared]
            name = f"criteria_features_{uuid4().hex[:12]}"
            try:
                engine.con.execute(f"CREATE TEMP TABLE {name} AS WITH {', '.join(ctes)} SELECT * FROM f")
                parts += [engine.sql(" UNION ALL ".join(_branch(c, plan, name) for c in criteria[j:j + batch]))
                          for j in range(0, len(criteria), batch)]
            finally:
                engine.con.execute(f"DROP TABLE IF EXISTS temp.{name}")
    finally:
        for cte in shared:
            engine.con.execute(f"DROP TABLE IF EXISTS temp.{cte.split(' ', 1)[0]}")
        engine.con.execute(f"SET enable_progress_bar = {bool(bar and bar[0])}")
    result = pa.concat_tables(parts).sort_by([("criterion_id", "ascending"), ("tier_rank", "descending"),
                                              ("points", "descending"), ("person_id", "ascending")])
    return result.select(list(RESULT_COLUMNS))


def write_result(result: pa.Table, out: Path) -> None:
    """Write a result as Parquet (``.parquet``) or CSV (anything else)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".parquet":
        pq.write_table(result, out)
    else:
        pa_csv.write_csv(result, out)
