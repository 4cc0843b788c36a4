"""Compile the condition trees of all criteria into SQL evaluated in a few passes.

Every distinct atom (a diagnosis in a window, a latest value, …) of every criterion becomes a
column of a sparse feature table — one per event table and code set, holding only the persons
with rows in that set — computed with one aggregate per table:

* ``dxc``/``rxc``/``mc`` — each *distinct* code of an event table classified once against every
  code set the criteria read (a few hundred codes, not millions of rows); event rows join to it
  on the code, so a row's code-set flags cost one hash probe however many criteria there are;
* ``dx<j>``/``rx<j>`` — per code set ``j``, one aggregate over the diagnosis or prescription rows
  of that set only, with a column pair per atom on it;
* ``mv<f>`` — per family of "any value" atoms (same code set, visit types and threshold, any
  window): readings bucketed once by the family's window starts, each atom summing its buckets;
* ``m1_<j>`` — the latest day per code set and excluded visit types (excluded visits flagged by an
  anti-join against the few such visits); a window only decides whether that day is in it, so
  atoms differing in window or threshold share it;
* ``m2_<j>`` — the readings on those latest days (same-day lowest/highest, CMS165);
* ``md``  — per person and day aggregates (shared across windows), for "days on which …" counts.

Every criterion is then one boolean over the feature columns of the tables it reads, evaluated
over its candidates only: the persons in the table of an atom its top-level ``all`` requires
(absent persons cannot match), joined to the population and LEFT JOINed to the other tables, so
absent features read as NULL exactly as in one wide table. :func:`evaluate_criteria` stages the
feature tables as temporary tables and evaluates criteria that read the same tables over one join
of them; :func:`criteria_sql` is the same as one statement. Dates and codes are validated before
they reach SQL text, so literals are inlined and the SQL is plain ANSI-ish SQL a Spark dialect can
follow.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
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
    home: dict[Atom, str] = field(default_factory=dict)  # the feature table the atom's test reads
    reads_of: dict[Atom, tuple[str, ...]] = field(default_factory=dict)  # every table its test and evidence read
    m2_src: dict[int, dict[int, None]] = field(default_factory=dict)  # m2 group -> the m1 groups of its days
    shared: dict[tuple[str, int, str, str], str] = field(default_factory=dict)  # (stem, group, expr, cond) -> column
    day_keys: dict[tuple[str, str, str], str] = field(default_factory=dict)  # per-day aggregate -> column
    families: dict[tuple[int, str], int] = field(default_factory=dict)  # (code set, row condition) -> family
    family_atoms: dict[int, list[tuple[str, date | None]]] = field(default_factory=dict)  # (prefix, start)

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
        self.add_columns(k, a)
        if isinstance(a, HasDiagnosis | HasPrescription):
            kind = "dx" if isinstance(a, HasDiagnosis) else "rx"
            self.home[a] = f"{kind}{self.group(kind, a.codes)}"
            self.reads_of[a] = (self.home[a],)
        elif isinstance(a, LatestValue):
            self.home[a] = f"m2_{self.group('m', a.codes)}"
            self.reads_of[a] = (self.home[a], f"m1_{self.group('m', a.day_codes)}")
        elif isinstance(a, CountDays):
            self.home[a] = "md"
            self.reads_of[a] = ("md",)

    def add_columns(self, k: int, a: Atom) -> None:
        p = f"a{k}"
        if isinstance(a, HasDiagnosis):
            cond = self.since(a.within, "diagnosis_date")
            g = self.group("dx", a.codes)
            self.dx.setdefault(g, []).append(_agg("count(*)", cond, f"{p}_n"))
            # the last date in a window is the last date overall if that is in the window
            last = self.shared_col(self.dx, g, "max(diagnosis_date)", "TRUE", "dl")
            self.test[a] = _count_ok(f"{p}_n", a.at_least, a.at_most)
            self.evidence[a] = [("count", f"coalesce({p}_n, 0)"), ("last_date", self.in_window(a.within, last))]
        elif isinstance(a, HasPrescription):
            g = self.group("rx", a.codes)
            self.rx.setdefault(g, []).append(_agg("count(*)", self.since(a.within, "end_date"), f"{p}_n"))
            last_end = self.shared_col(self.rx, g, "max(end_date)", "TRUE", "re")
            self.test[a] = _count_ok(f"{p}_n", a.at_least, a.at_most)
            self.evidence[a] = [("count", f"coalesce({p}_n, 0)"), ("last_end", last_end)]
        elif isinstance(a, AnyValue):
            # atoms differing only in window form a family: its readings are counted per window
            # bucket once, and each atom's count, first and last day summed over its buckets
            cond = self.visit_ok(a.exclude_visit_types)
            if a.threshold is not None:
                cond = _and(cond, _threshold(a.threshold, _value_in(a.threshold.unit)))
            self.reads(a.within)
            fam = self.families.setdefault((self.group("m", a.codes), cond), len(self.families))
            self.family_atoms.setdefault(fam, []).append(
                (p, window_start(self.on, a.within) if a.within is not None else None))
            last = self.in_window(a.within, f"mv{fam}_last")  # as for diagnoses
            self.home[a] = f"mv{fam}"
            self.reads_of[a] = (self.home[a],)
            test = _count_ok(f"{p}_n", a.at_least, a.at_most)
            if a.min_span is not None:
                test = f"({test} AND coalesce({last} >= {_plus(f'{p}_first', a.min_span)}, FALSE))"
            self.test[a] = test
            self.evidence[a] = [("count", f"coalesce({p}_n, 0)"), ("first", f"{p}_first"), ("last", last)]
        elif isinstance(a, LatestValue):
            # The latest day in a window is the latest day overall if that is in the window, so atoms
            # differing only in window (or threshold) share one latest day and one reading of it.
            visit = self.visit_ok(a.exclude_visit_types)
            self.reads(a.within)
            gd = self.group("m", a.day_codes)
            last = self.shared_col(self.m1, gd, "max(day)", visit, "l")
            g = self.group("m", a.codes)
            val = self.shared_col(self.m2, g, f"{a.same_day}({_value_in(a.threshold.unit)})",
                                  _and(visit, f"day = {last}"), "v")
            if last not in self.m2_days.setdefault(g, []):
                self.m2_days[g].append(last)
            self.m2_src.setdefault(g, {})[gd] = None
            day, value = self.in_window(a.within, last), self.in_window(a.within, last, val)
            hit = _threshold(a.threshold, value)
            self.test[a] = f"(CASE WHEN {value} IS NULL THEN {str(a.missing_is_hit).upper()} ELSE {hit} END)"
            self.evidence[a] = [("value", value), ("date", day)]
        else:
            self.add_days(p, a)

    def in_window(self, within: Duration | None, day: str, value: str | None = None) -> str:
        """``value`` (default: ``day``) where the date column ``day`` is in the window, else NULL."""
        cond = self.since(within, day)
        return value or day if cond == "TRUE" else f"(CASE WHEN {cond} THEN {value or day} END)"

    def shared_col(self, groups: Groups, g: int, expr: str, cond: str, stem: str) -> str:
        """The column of ``groups[g]`` holding ``expr`` over the rows where ``cond`` holds, added once."""
        key = (stem, g, expr, cond)
        if key not in self.shared:
            self.shared[key] = f"{stem}{len(self.shared)}"
            groups.setdefault(g, []).append(_agg(expr, cond, self.shared[key]))
        return self.shared[key]

    def add_days(self, p: str, a: CountDays) -> None:
        # each day's aggregate does not depend on the window (a day is in it or not), so atoms that
        # differ only in window or threshold share the per-day columns
        visit = self.visit_ok(a.exclude_visit_types)
        tests = []
        self.reads(a.within)
        for t in a.tests:
            flag = f"k{self.group('m', t.codes)}"
            self.day_flags[flag] = None
            key = (a.same_day, _value_in(t.threshold.unit), _and(flag, visit))
            if key not in self.day_keys:
                self.day_keys[key] = f"d{len(self.day_keys)}"
                self.day_cols.append(_agg(f"{key[0]}({key[1]})", key[2], self.day_keys[key]))
            tests.append(f"coalesce({_threshold(t.threshold, self.day_keys[key])}, FALSE)")
        window = self.since(a.within, "day")
        self.days.append(f"count(*) FILTER (WHERE {_and(window, '(' + ' OR '.join(tests) + ')')}) AS {p}_days")
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


def _required(node: Node) -> list[Atom]:
    """Atoms that must hold for ``node`` to hold (those of its top-level ``all``)."""
    if isinstance(node, Named):
        return _required(node.node)
    if isinstance(node, AllOf):
        return [a for child in node.children for a in _required(child)]
    if isinstance(node, AnyOf | NoneOf):
        return []
    return [node]


def _absent_is_false(a: Atom) -> bool:
    """Whether ``a`` is false for a person with no row in its feature table (every column NULL)."""
    if isinstance(a, LatestValue):
        return not a.missing_is_hit
    return a.at_least >= 1


def _source(c: CompiledCriterion, plan: _Plan, sizes: dict[str, int] | None) -> tuple[str, ...]:
    """The tables of the FROM clause of ``c``: its candidates, the population and the feature tables it reads.

    Candidates are the persons in the feature table of an atom that must hold and is false for
    persons absent from that table (the smallest such table); a criterion with none starts from
    everyone. Every other table is a LEFT JOIN, so absent features are NULL, as the tests expect.
    """
    tables: dict[str, None] = {}
    for node in (c.condition, *(b.when for b in c.bonuses), *c.evidence):
        for a in atoms_of(node):
            tables.update(dict.fromkeys(plan.reads_of[a]))
    homes = [plan.home[a] for a in _required(c.condition) if _absent_is_false(a)]
    if homes:
        first = min(homes, key=lambda t: (sizes or {}).get(t, 0))
        del tables[first]
        return (first, "pop", *tables)
    return ("pop", *tables)


def _from(tables: tuple[str, ...]) -> str:
    """``_source``'s tables as a FROM clause: an inner join of the first two, LEFT JOINs of the rest."""
    if tables[0] == "pop":
        head, rest = "pop", tables[1:]
    else:
        head, rest = f"{tables[0]} JOIN pop USING (person_id)", tables[2:]
    return head + "".join(f" LEFT JOIN {t} USING (person_id)" for t in rest)


def _branch(c: CompiledCriterion, plan: _Plan, sizes: dict[str, int] | None = None, source: str | None = None) -> str:
    """The persons ``c`` matches over the feature tables (or the prepared join ``source``), with points
    and evidence."""
    points = str(c.points) + "".join(f" + CASE WHEN {_bool(b.when, plan)} THEN {b.add} ELSE 0 END"
                                     for b in c.bonuses)
    return (f"SELECT person_id, {_lit(c.id)} AS criterion_id, {c.version} AS version, {_lit(c.tier)} AS tier, "
            f"CAST({points} AS INTEGER) AS points, {_lit(c.action)} AS action, {_lit(c.unit_type)} AS unit_type, "
            f"CAST({_evidence(c, plan)} AS VARCHAR) AS evidence, {_TIER_RANK[c.tier]} AS tier_rank "
            f"FROM {source or _from(_source(c, plan, sizes))} WHERE {_population(c)} AND {_bool(c.condition, plan)}")


def _family(fam: int, g: int, cond: str, atoms: list[tuple[str, date | None]]) -> list[str]:
    """``mv<fam>``: count, first and last day of the readings of code set ``g`` where ``cond`` holds, per
    atom of the family (its window start).

    ``mv<fam>b`` buckets the readings by how many of the family's window starts they are on or
    after; an atom whose window starts at the i-th start reads the buckets ``b >= i``.
    """
    starts = sorted({s for _, s in atoms if s is not None})
    bucket = ("CASE " + " ".join(f"WHEN day >= {_date(s)} THEN {i}" for i, s in reversed(list(enumerate(starts, 1))))
              + " ELSE 0 END") if starts else "0"
    cols = []
    for p, s in atoms:
        inside = "TRUE" if s is None else f"b >= {starts.index(s) + 1}"
        n = "sum(n)" if s is None else f"sum(n) FILTER (WHERE {inside})"
        cols += [f"CAST({n} AS BIGINT) AS {p}_n", _agg("min(lo)", inside, f"{p}_first")]
    cols.append(f"max(hi) AS mv{fam}_last")
    return [f"mv{fam}b AS (SELECT person_id, {bucket} AS b, count(*) AS n, min(day) AS lo, max(day) AS hi "
            f"FROM m WHERE {_and(f'k{g}', cond)} GROUP BY ALL)",
            f"mv{fam} AS (SELECT person_id, {', '.join(cols)} FROM mv{fam}b GROUP BY person_id)"]


def _grouped(name: str, groups: Groups, rows: str) -> list[str]:
    """One aggregate per code-set group over that group's rows only."""
    return [f"{name}{j} AS (SELECT person_id, {', '.join(cols)} FROM {rows} WHERE k{j} GROUP BY person_id)"
            for j, cols in groups.items()]


def _passes(plan: _Plan, on_sql: str, one: str) -> list[str]:
    """The CTEs of the passes over the event tables, in dependency order."""
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
    if plan.m1 or plan.days or plan.families:
        ctes += _measurements(plan, on_sql, one)
    ctes += _grouped("m1_", plan.m1, "m")
    for (g, cond), fam in plan.families.items():
        ctes += _family(fam, g, cond, plan.family_atoms[fam])
    if plan.days:
        ctes.append(_pass("md0", plan.day_cols, f"(SELECT * FROM m WHERE {' OR '.join(plan.day_flags)})",
                          "person_id, day"))
        ctes.append(_pass("md", plan.days, "md0"))
    for j, cols in plan.m2.items():
        days = plan.m2_days[j]
        src = [f"m1_{k}" for k in plan.m2_src[j]]
        who = src[0] if len(src) == 1 else (
            "(" + " UNION ".join(f"SELECT person_id FROM {t}" for t in src) + ") w"
            + "".join(f" LEFT JOIN {t} USING (person_id)" for t in src))
        ctes.append(f"m2_{j} AS (SELECT person_id, {', '.join(cols)} FROM m JOIN (SELECT person_id, {', '.join(days)} "
                    f"FROM {who} WHERE {' OR '.join(f'{d} IS NOT NULL' for d in days)}) d USING (person_id) "
                    f"WHERE k{j} AND day IN ({', '.join(days)}) GROUP BY person_id)")
    return ctes


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
    """The CTEs of the population (``pop``) and the feature tables, and the plan behind them.

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
    ctes += _passes(plan, on_sql, one)
    return ctes, plan


_ORDER = "criterion_id, tier_rank DESC, points DESC, person_id"
_NAME = re.compile(r"^(\w+) AS (MATERIALIZED )?\(")


def criteria_sql(criteria: Sequence[CompiledCriterion], on: date, person_id: int | None = None) -> str:
    """One query: per matched (person, criterion), the points and the evidence as JSON.

    A single statement, to embed as a subquery (proactive-service triggers use a few criteria);
    :func:`evaluate_criteria` stages the same feature tables and branches for hundreds of criteria.
    With ``person_id``, only that person is evaluated (``explain``); the answer is the same row the
    whole-population run gives for them.
    """
    ctes, plan = _features(criteria, on, person_id)
    ctes = [c if (m := _NAME.match(c)) is None or m[2] else f"{m[1]} AS MATERIALIZED ({c[m.end():]}"
            for c in ctes]
    branches = " UNION ALL ".join(_branch(c, plan) for c in criteria)
    return f"WITH {', '.join(ctes)} SELECT {', '.join(RESULT_COLUMNS)} FROM ({branches}) ORDER BY {_ORDER}"


_SHARED = {"dxc", "rxc", "mc"}
#: Persons per pass; a larger city runs in person partitions, so memory stays bounded.
PERSONS_PER_PARTITION = 2_000_000


def _stage(engine: DuckDBEngine, cte: str) -> str:
    """Create the CTE ``cte`` as a temporary table of the same name; its name."""
    m = _NAME.match(cte)
    assert m is not None
    engine.con.execute(f"CREATE TEMP TABLE {m[1]} AS {cte[m.end():-1]}")
    return m[1]


def _evaluate(engine: DuckDBEngine, criteria: Sequence[CompiledCriterion], plan: _Plan, staged: list[str],
              batch: int) -> list[pa.Table]:
    """The criteria over the staged feature tables.

    Criteria reading the same tables (variants of one criterion) share one join of them, with
    only the columns they read, evaluated ``batch`` criteria a statement.
    """
    sizes, columns = {}, {}
    for t in staged:
        sizes[t] = int(engine.con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0])
        columns[t] = [str(r[0]) for r in engine.con.execute(f"DESCRIBE {t}").fetchall()]
    by_source: dict[tuple[str, ...], list[CompiledCriterion]] = {}
    for c in criteria:
        by_source.setdefault(_source(c, plan, sizes), []).append(c)
    parts = []
    for tables, group in by_source.items():
        for j in range(0, len(group), batch):
            branches = [_branch(c, plan, source="j") for c in group[j:j + batch]]
            words = set(re.findall(r"\w+", " ".join(branches)))
            cols = ["person_id", *(col for t in tables for col in columns[t] if col != "person_id" and col in words)]
            parts.append(engine.sql(f"WITH j AS MATERIALIZED (SELECT {', '.join(cols)} FROM {_from(tables)}) "
                                    f"SELECT * FROM ({' UNION ALL '.join(branches)}) ORDER BY {_ORDER}"))
    return parts


def _in_order(parts: list[pa.Table]) -> pa.Table:
    """Parts each sorted by :data:`_ORDER` (every criterion in one part) as one sorted table.

    Each criterion's rows are one slice of its part, so the slices are put in criterion order
    without copying the rows (the evidence is most of their bytes).
    """
    slices: list[tuple[str, pa.Table]] = []
    for t in parts:
        start = 0
        for item in pc.value_counts(t["criterion_id"]).to_pylist():  # in order of first appearance
            slices.append((str(item["values"]), t.slice(start, int(item["counts"]))))
            start += int(item["counts"])
    slices.sort(key=lambda s: s[0])
    return pa.concat_tables([t for _, t in slices] or [parts[0].slice(0, 0)])


def evaluate_criteria(engine: DuckDBEngine, criteria: Sequence[CompiledCriterion], on: date,
                      person_id: int | None = None, *, batch: int = 25,
                      partitions: int | None = None) -> pa.Table:
    """Every criterion for everyone (or one person) on ``on``: one row per matched person and criterion.

    The feature tables (one per event table and code set, holding only the persons with rows in
    that set) are staged as temporary tables, then the criteria are evaluated ``batch`` at a time,
    each over its candidates only (:func:`_source`). With more than :data:`PERSONS_PER_PARTITION`
    persons (or ``partitions`` given), the persons are split by id into partitions, each a pass
    of its own.
    """
    _, plan = _features(criteria, on, person_id)
    if partitions is None:
        persons = 1 if person_id is not None else int(engine.sql("SELECT count(*) AS n FROM person")["n"][0].as_py())
        partitions = max(1, -(-persons // PERSONS_PER_PARTITION))
    # DuckDB's progress bar writes to stdout, which would corrupt ``--json`` output of a long run
    bar = engine.con.execute("SELECT current_setting('enable_progress_bar')").fetchone()
    engine.con.execute("SET enable_progress_bar = false")
    parts: list[pa.Table] = []
    shared: list[str] = []  # code dictionaries and excluded visits: the same for every partition, built once
    try:
        for i in range(partitions):
            ctes, plan = _features(criteria, on, person_id, (i, partitions) if partitions > 1 else None)
            staged: list[str] = []
            try:
                for cte in ctes:
                    m = _NAME.match(cte)
                    assert m is not None
                    if m[1] in shared:
                        continue
                    if m[1] in _SHARED or re.fullmatch(r"x[0-9]+", m[1]):
                        shared.append(_stage(engine, cte))
                    else:
                        staged.append(_stage(engine, cte))
                parts += _evaluate(engine, criteria, plan, staged, batch)
            finally:
                for t in reversed(staged):
                    engine.con.execute(f"DROP TABLE IF EXISTS temp.{t}")
    finally:
        for t in shared:
            engine.con.execute(f"DROP TABLE IF EXISTS temp.{t}")
        engine.con.execute(f"SET enable_progress_bar = {bool(bar and bar[0])}")
    if partitions == 1:
        return _in_order(parts).select(list(RESULT_COLUMNS))
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
