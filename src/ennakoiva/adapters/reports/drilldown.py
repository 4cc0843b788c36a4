"""Drill-downs: counts, denominators and shares by any dimensions, after disclosure control.

The aggregate query's groups become one frequency table, which ``protect`` releases:

- **with a measure**, the rows are the groups (one dimension, or the combinations of several)
  and the columns are *numerator* and *rest* (denominator − numerator), so the row total is the
  denominator. A small numerator, a small rest ("all but two are employed") and a small
  denominator are all caught, and secondary suppression keeps every one of them from being
  recomputed from the others or from the column totals;
- **without a measure** the table counts units: one dimension gives one column and its total;
  two give rows × columns with both margins; more give combinations of all but the last × the last.

A share is published only where its count and its denominator are both published, so no
suppressed count can be rebuilt as share × denominator (analytics.md §5.2, T4). Areas with fewer
residents than the policy's area floor are suppressed whole. Subtotals over a subset of several
dimensions are not released by one drill-down: a second drill-down over fewer dimensions is a
second table, protected on its own (linked-table audits are the open-data release's job).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

import pyarrow as pa
from pydantic import BaseModel, ConfigDict

from ennakoiva.adapters.engine.aggregates import AggregateQuery, LinkSQL, used_parts
from ennakoiva.adapters.reports.spec import AnalyticsSpec, Dimension
from ennakoiva.domain.disclosure import (
    TOTAL,
    CellStatus,
    DisclosurePolicy,
    FrequencyTable,
    ProtectedTable,
    SuppressionReason,
    protect,
)
from ennakoiva.domain.types import Lang

__all__ = [
    "ALL", "NUMERATOR", "REST", "BuiltTable", "Drilldown", "DrilldownRow", "build_query", "build_table",
    "categories_for", "protect_groups", "release_rows",
]

NUMERATOR, REST, COUNT = "numerator", "rest", "count"
ALL = "all"
SEP = " · "


class DrilldownRow(BaseModel):
    """One published line: its group labels (``Total`` for a margin), count, denominator, share."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    labels: dict[str, str]
    count: int | None
    denominator: int | None
    #: count / denominator, only when both are published
    share: float | None
    #: why the count is not shown ("suppressed"), or None
    note: str | None = None
    margin: bool = False


class Drilldown(BaseModel):
    """A released drill-down: rows with counts and shares, the protected table behind them."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    spec: str
    by: list[str]
    measure: str | None
    title: str
    count_name: str
    denominator_name: str
    unit: str
    reference_date: date
    policy_id: str
    threshold: int
    area_floor: int | None
    rows: list[DrilldownRow]
    table: ProtectedTable

    @property
    def suppressed_cells(self) -> int:
        return len(self.table.suppressed())

    def body(self) -> list[DrilldownRow]:
        return [r for r in self.rows if not r.margin]

    def total(self) -> DrilldownRow:
        """The grand total (a table of one line is its own total)."""
        grand = [r for r in self.rows if r.margin and all(v == TOTAL for v in r.labels.values())]
        return grand[0] if grand else self.rows[0]

    def public(self) -> dict[str, object]:
        """The JSON form: nothing in it is a suppressed value or a reason beyond 'suppressed'."""
        return {"spec": self.spec, "by": self.by, "measure": self.measure, "title": self.title,
                "count": self.count_name, "denominator": self.denominator_name, "unit": self.unit,
                "reference_date": self.reference_date.isoformat(),
                "policy": {"id": self.policy_id, "threshold": self.threshold, "area_floor": self.area_floor},
                "suppressed_cells": self.suppressed_cells, "cells": len(self.table.cells),
                "rows": [r.model_dump() for r in self.rows]}


def categories_for(spec: AnalyticsSpec, q: AggregateQuery) -> tuple[str, ...]:
    """Data categories a compiled request reads: the universe's plus those of the links it uses."""
    links, _ = used_parts(q)
    used = {link.id for link in links}
    cats = list(spec.categories)
    for link in spec.links:
        if link.id in used:
            cats.extend(link.categories)
    return tuple(dict.fromkeys(cats))


def build_query(spec: AnalyticsSpec, by: Sequence[str], measure: str | None,
                filters: Mapping[str, Sequence[str]] | None = None) -> AggregateQuery:
    """The aggregate query for a request over a spec (unknown dimensions or measures are errors)."""
    if len(set(by)) != len(by):
        raise ValueError(f"a dimension is repeated in --by: {', '.join(by)}")
    dims = [spec.dimension(d) for d in by]
    m = spec.measure(measure) if measure else None
    key = spec.key or "NULL"
    links = tuple(LinkSQL(id=link.id, source=link.source, key=link.key, on=link.on or key, where=link.where,
                          value=link.value) for link in spec.links)
    flt = tuple((spec.dimension(d).expression, tuple(v)) for d, v in (filters or {}).items())
    return AggregateQuery(source=spec.source, select=spec.select, where=spec.where, qualify=spec.qualify,
                          weight=spec.weight, links=links, columns=tuple((c.id, c.expression) for c in spec.columns),
                          groups=tuple((d.id, d.expression) for d in dims),
                          numerator=m.numerator if m else "true", denominator=m.denominator if m else "true",
                          filters=flt)


def _sort_key(dim: Dimension, value: str) -> tuple[int, str]:
    return (dim.order.index(value), "") if value in dim.order else (len(dim.order), value)


def _label(value: str) -> str:
    return f"'{value}'" if value == TOTAL else value


@dataclass(frozen=True)
class _Groups:
    keys: list[tuple[str, ...]]
    units: dict[tuple[str, ...], int]
    den: dict[tuple[str, ...], int]
    num: dict[tuple[str, ...], int]


def _groups(result: pa.Table, dims: Sequence[Dimension]) -> _Groups:
    cols = [result.column(f"g{i}").to_pylist() for i in range(len(dims))]
    units, den, num = (result.column(c).to_pylist() for c in ("units", "denominator", "numerator"))
    keys = [tuple(_label(str(c[i])) for c in cols) for i in range(result.num_rows)] if dims else [()] * result.num_rows
    g = _Groups(keys=[], units={}, den={}, num={})
    for k, u, d, n in zip(keys, units, den, num, strict=True):
        g.units[k], g.den[k], g.num[k] = int(u or 0), int(d or 0), int(n or 0)
    g.keys.extend(sorted(g.units, key=lambda k: [_sort_key(dim, v) for dim, v in zip(dims, k, strict=True)]))
    return g


def _area_force(dims: Sequence[Dimension], g: _Groups, policy: DisclosurePolicy) -> set[str]:
    """Values of area dimensions whose population (units in the request) is under the floor."""
    if policy.area_floor is None:
        return set()
    small: set[str] = set()
    for i, dim in enumerate(dims):
        if dim.area is None:
            continue
        pop: dict[str, int] = defaultdict(int)
        for k in g.keys:
            pop[k[i]] += g.units[k]
        small |= {v for v, n in pop.items() if 0 < n < policy.area_floor}
    return small


@dataclass(frozen=True)
class BuiltTable:
    """A frequency table before protection, with what maps its labels back to dimension values."""

    table: FrequencyTable
    force: dict[tuple[str, str], SuppressionReason]
    row_keys: dict[str, tuple[str, ...]]
    col_keys: dict[str, tuple[str, ...]]


def build_table(result: pa.Table, spec: AnalyticsSpec, by: Sequence[str], measure: str | None,
                policy: DisclosurePolicy, lang: Lang = "en", name: str | None = None) -> BuiltTable:
    """The frequency table of a query result (see the module docstring for its layout).

    The area floor is the policy's own rule when the rows are areas of a count table (the row total
    is then the area's population); otherwise areas under the floor are forced out as whole lines.
    """
    dims = [spec.dimension(d) for d in by]
    m = spec.measure(measure) if measure else None
    g = _groups(result, dims)
    area_axis: Literal["rows"] | None = None
    if m is not None:
        keys = [k for k in g.keys if g.den[k] > 0]
        if not keys:
            raise ValueError(f"no {spec.unit[lang]} in the denominator ({m.denominator_names[lang]})")
        rows = tuple(SEP.join(k) for k in keys) if dims else (ALL,)
        counts: tuple[tuple[int, ...], ...] = tuple((g.num.get(k, 0), g.den.get(k, 0) - g.num.get(k, 0))
                                                    for k in keys)
        row_keys = dict(zip(rows, keys, strict=True))
        col_keys: dict[str, tuple[str, ...]] = {}
        cols: tuple[str, ...] = (NUMERATOR, REST)
        row_dim, col_dim = "+".join(by) or ALL, "measure"
        col_dim_opt: str | None = col_dim
    else:
        if not g.keys or not any(g.den.values()):
            raise ValueError(f"the request matched no {spec.unit[lang]}")
        split = max(len(dims) - 1, 1) if len(dims) > 1 else len(dims)
        row_tuples: list[tuple[str, ...]] = list(dict.fromkeys(k[:split] for k in g.keys)) if dims else [()]
        col_tuples: list[tuple[str, ...]] = (list(dict.fromkeys(k[split:] for k in g.keys)) if len(dims) > 1
                                             else [()])
        col_tuples.sort(key=lambda k: [_sort_key(dim, val) for dim, val in zip(dims[split:], k, strict=True)])
        rows = tuple(SEP.join(r) for r in row_tuples) if dims else (ALL,)
        cols = tuple(SEP.join(c) for c in col_tuples) if len(dims) > 1 else (COUNT,)
        counts = tuple(tuple(g.den.get(r + c, 0) for c in col_tuples) for r in row_tuples)
        row_keys = dict(zip(rows, row_tuples, strict=True))
        col_keys = dict(zip(cols, col_tuples, strict=True)) if len(dims) > 1 else {}
        row_dim, col_dim_opt = "+".join(by[:split]) or ALL, "+".join(by[split:]) or None
        if split == 1 and dims[0].area is not None and not any(d.area for d in dims[1:]):
            area_axis = "rows"
    table = FrequencyTable(name=name or f"{spec.id}:{m.id if m else 'count'}", row_dimension=row_dim,
                           col_dimension=col_dim_opt, rows=rows, cols=cols, counts=counts, area_axis=area_axis)
    small = set() if area_axis else _area_force(dims, g, policy)
    force = {cell: SuppressionReason.AREA_FLOOR for cell in table.extended_cells()
             if set(row_keys.get(cell[0], ())) & small or set(col_keys.get(cell[1], ())) & small}
    return BuiltTable(table=table, force=force, row_keys=row_keys, col_keys=col_keys)


def release_rows(built: BuiltTable, protected: ProtectedTable, by: Sequence[str],
                 measure: str | None) -> list[DrilldownRow]:
    """The published rows of a protected table (shares only beside published counts and denominators)."""
    if measure is not None:
        return _measure_rows(protected, by, built.row_keys)
    return _count_rows(protected, by, built.row_keys, built.col_keys)


def protect_groups(result: pa.Table, spec: AnalyticsSpec, by: Sequence[str], measure: str | None,
                   policy: DisclosurePolicy, on: date, lang: Lang = "en") -> Drilldown:
    """Build the frequency table from the query result, protect it and derive the published rows."""
    m = spec.measure(measure) if measure else None
    built = build_table(result, spec, by, measure, policy, lang)
    protected = protect(built.table, policy, force=built.force)
    unit = spec.unit[lang]
    title = f"{spec.names[lang]}: {m.names[lang]}" if m else f"{spec.names[lang]} ({unit})"
    return Drilldown(spec=spec.id, by=list(by), measure=m.id if m else None, title=title,
                     count_name=m.names[lang] if m else unit,
                     denominator_name=m.denominator_names[lang] if m else unit, unit=unit, reference_date=on,
                     policy_id=policy.id, threshold=policy.threshold, area_floor=policy.area_floor,
                     rows=release_rows(built, protected, by, measure), table=protected)


def _labels(by: Sequence[str], values: tuple[str, ...] | None) -> dict[str, str]:
    return {d: (values[i] if values is not None else TOTAL) for i, d in enumerate(by)}


def _row(labels: dict[str, str], t: ProtectedTable, cell: tuple[str, str], den_cell: tuple[str, str] | None,
         margin: bool) -> DrilldownRow:
    count = t.published(*cell)
    den = t.published(*den_cell) if den_cell else None
    share = round(count / den, 4) if count is not None and den else None
    note = None if t.cell(*cell).status is CellStatus.PUBLISHED else "suppressed"
    return DrilldownRow(labels=labels, count=count, denominator=den, share=share, note=note, margin=margin)


def _measure_rows(t: ProtectedTable, by: Sequence[str], row_keys: Mapping[str, tuple[str, ...]]) -> list[DrilldownRow]:
    out = [_row(_labels(by, row_keys[r]), t, (r, NUMERATOR), (r, TOTAL), margin=False) for r in t.rows]
    if TOTAL in t.ext_rows:
        out.append(_row(_labels(by, None), t, (TOTAL, NUMERATOR), (TOTAL, TOTAL), margin=True))
    return out


def _count_rows(t: ProtectedTable, by: Sequence[str], row_keys: Mapping[str, tuple[str, ...]],
                col_keys: Mapping[str, tuple[str, ...]]) -> list[DrilldownRow]:
    split = len(by) - 1 if len(by) > 1 else len(by)
    has_total_row, has_total_col = TOTAL in t.ext_rows, TOTAL in t.ext_cols
    out: list[DrilldownRow] = []
    for r in t.ext_rows:
        for c in t.ext_cols:
            rk = row_keys.get(r)
            ck = col_keys.get(c, ()) if col_keys else ()
            col_labels = _labels(by[split:], ck if c != TOTAL else None) if col_keys else {}
            labels = {**_labels(by[:split], rk), **col_labels}
            margin = TOTAL in (r, c)
            den_cell: tuple[str, str] | None
            if col_keys:  # a cross table: shares of the row total; margins: shares of the grand total
                if TOTAL not in (r, c):
                    den_cell = (r, TOTAL) if has_total_col else None
                elif (r, c) == (TOTAL, TOTAL):
                    den_cell = None
                elif r == TOTAL:
                    den_cell = (TOTAL, TOTAL) if has_total_col else None
                else:
                    den_cell = (TOTAL, TOTAL) if has_total_row else None
            else:  # one column: shares of the total
                den_cell = (TOTAL, c) if has_total_row and r != TOTAL else None
            out.append(_row(labels, t, (r, c), den_cell, margin))
    return out
