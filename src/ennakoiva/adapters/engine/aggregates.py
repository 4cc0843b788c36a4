"""Compile a drill-down (units by groups, a numerator and its denominator) to one SQL query.

The query has three parts: the *universe* (one row per unit: a FROM clause, filter and optional
QUALIFY), *links* joined per unit as pre-aggregated subqueries (so a person with many service
rows still counts once), then derived columns in order, each able to use the ones before it.
One ``GROUP BY`` returns, per combination of group values, the units, the denominator and the
numerator (numerator ⊆ denominator). Only the links and columns the request uses are compiled
in, so a drill-down by district over residents scans the person table alone.

Counts only leave this module as input to disclosure control (``adapters/reports``).

>>> q = AggregateQuery(source="person p", select="p.*", where="p.death_date IS NULL",
...                    groups=(("district", "district_code"),), numerator="sex = 'F'")
>>> print(compile_aggregate(q, date(2026, 11, 1)))  # doctest: +NORMALIZE_WHITESPACE
WITH base AS (SELECT p.* FROM person p WHERE (p.death_date IS NULL))
SELECT coalesce(CAST((district_code) AS VARCHAR), '(missing)') AS "g0",
  count(*) AS units, count(*) FILTER (WHERE (true)) AS denominator,
  count(*) FILTER (WHERE (true) AND (sex = 'F')) AS numerator
FROM base GROUP BY ALL ORDER BY ALL
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa

from ennakoiva.adapters.engine.duckdb_engine import DuckDBEngine

__all__ = [
    "MISSING", "AggregateQuery", "LinkSQL", "compile_aggregate", "file_columns", "file_source", "reference_date",
    "run_aggregate", "sql_literal", "used_parts",
]

MISSING = "(missing)"


@dataclass(frozen=True)
class LinkSQL:
    """Facts joined per unit: ``value`` aggregated per key, or a flag when ``value`` is None."""

    id: str
    source: str
    key: str
    on: str
    where: str | None = None
    value: str | None = None


@dataclass(frozen=True)
class AggregateQuery:
    source: str
    select: str = "*"
    where: str | None = None
    qualify: str | None = None
    weight: str | None = None
    links: tuple[LinkSQL, ...] = ()
    columns: tuple[tuple[str, str], ...] = ()
    #: (id, expression) of each grouping dimension, in order
    groups: tuple[tuple[str, str], ...] = ()
    numerator: str = "true"
    denominator: str = "true"
    #: expression -> allowed values (compared as text, NULL as ``(missing)``)
    filters: tuple[tuple[str, tuple[str, ...]], ...] = field(default_factory=tuple)


def sql_literal(value: str) -> str:
    """A string as an SQL literal.

    >>> sql_literal("O'Brien")
    "'O''Brien'"
    """
    return "'" + value.replace("'", "''") + "'"


def _as_of(sql: str, on: date) -> str:
    return re.sub(r"(?<!:):as_of\b", f"DATE '{on.isoformat()}'", sql)


def _mentions(text: str, name: str) -> bool:
    return re.search(rf"(?<![\w.]){re.escape(name)}\b", text) is not None


def used_parts(q: AggregateQuery) -> tuple[list[LinkSQL], list[tuple[str, str]]]:
    """The links and columns the request needs (columns may use earlier columns and links)."""
    needed = " ".join([e for _, e in q.groups] + [q.numerator, q.denominator, q.weight or ""]
                      + [e for e, _ in q.filters])
    columns: list[tuple[str, str]] = []
    for cid, expr in reversed(q.columns):
        if _mentions(needed, cid):
            columns.insert(0, (cid, expr))
            needed += " " + expr
    links = [link for link in q.links if _mentions(needed, link.id)]
    return links, columns


def _text(expr: str) -> str:
    return f"coalesce(CAST(({expr}) AS VARCHAR), {sql_literal(MISSING)})"


def compile_aggregate(q: AggregateQuery, on: date) -> str:
    """The query text, with ``:as_of`` replaced by the reference date."""
    links, columns = used_parts(q)
    select = [q.select]
    joins = []
    for link in links:
        alias = f'"l_{link.id}"'
        value = link.value or "true"
        where = f" WHERE {link.where}" if link.where else ""
        joins.append(f"LEFT JOIN (SELECT {link.key} AS k, {value} AS v FROM {link.source}{where} GROUP BY 1) "
                     f"AS {alias} ON {alias}.k = {link.on}")
        select.append(f"{alias}.v AS \"{link.id}\"" if link.value else f"({alias}.k IS NOT NULL) AS \"{link.id}\"")
    base = f"SELECT {', '.join(select)} FROM {q.source}"
    if joins:
        base += " " + " ".join(joins)
    if q.where:
        base += f" WHERE ({q.where})"
    if q.qualify:
        base += f" QUALIFY ({q.qualify})"
    ctes = [f"base AS ({base})"]
    prev = "base"
    for i, (cid, expr) in enumerate(columns):
        ctes.append(f'c{i} AS (SELECT *, ({expr}) AS "{cid}" FROM {prev})')
        prev = f"c{i}"
    weight = f"({q.weight})" if q.weight else None
    count = f"coalesce(sum({weight}), 0)::BIGINT" if weight else "count(*)"
    keys = [f'{_text(expr)} AS "g{i}"' for i, (_, expr) in enumerate(q.groups)]
    den, num = f"({q.denominator})", f"({q.denominator}) AND ({q.numerator})"

    def counted(cond: str) -> str:
        if weight:
            return f"coalesce(sum({weight}) FILTER (WHERE {cond}), 0)::BIGINT"
        return f"count(*) FILTER (WHERE {cond})"

    outputs = [*keys, f"{count} AS units", f"{counted(den)} AS denominator", f"{counted(num)} AS numerator"]
    sql = f"WITH {', '.join(ctes)} SELECT {', '.join(outputs)} FROM {prev}"
    conds = [f"{_text(expr)} IN ({', '.join(sql_literal(v) for v in values)})" for expr, values in q.filters]
    if conds:
        sql += " WHERE " + " AND ".join(conds)
    sql += " GROUP BY ALL ORDER BY ALL" if q.groups else ""
    return _as_of(sql, on)


def run_aggregate(engine: DuckDBEngine, q: AggregateQuery, on: date) -> pa.Table:
    """Columns ``g0..gN`` (text), ``units``, ``denominator``, ``numerator`` — one row per group."""
    return engine.sql(compile_aggregate(q, on))


def reference_date(engine: DuckDBEngine, sql: str) -> date | None:
    """The value of a one-date query (a spec's default reference date), or None."""
    value: Any = engine.sql(sql).column(0)[0].as_py()
    if value is None:
        return None
    return value.date() if hasattr(value, "date") else value  # type: ignore[no-any-return]


def file_source(path: Path, options: Mapping[str, str] | None = None) -> str:
    """A FROM item reading a CSV or Parquet file (by suffix), for a file a city brings."""
    if not path.exists():
        raise FileNotFoundError(f"no file at {path}")
    literal = sql_literal(str(path))
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return f"read_parquet({literal})"
    if suffix in (".csv", ".tsv", ".txt", ".gz"):
        extra = "".join(f", {k} = {sql_literal(v)}" for k, v in (options or {}).items())
        # Every column as text: codes are not numbers or booleans (postal code 00100 would lose its
        # zeros, and a column holding only F would be read as the boolean false).
        return f"read_csv({literal}, header = true, all_varchar = true{extra})"
    raise ValueError(f"--data must be a .csv or .parquet file, not {path.name}")


def file_columns(engine: DuckDBEngine, source: str) -> list[str]:
    """Column names of a file source."""
    return list(engine.sql(f"SELECT * FROM {source} LIMIT 0").column_names)
