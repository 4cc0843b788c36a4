"""Analytics specs: which units are counted, by which dimensions, with which measures (as data).

A spec (``catalogue/analytics/<id>.yaml``) names a *universe* (a FROM clause, a filter, one row
per unit), *links* (facts from other tables joined per unit: a flag, or one aggregated value),
derived *columns*, the *dimensions* a drill-down may group by, and the *measures* with their
denominators. Everything is SQL text over the registry tables; ``:as_of`` is the reference date.
``ennakoiva.adapters.engine.aggregates`` compiles a request over a spec to one query.

Why SQL fragments and not a query DSL: the city's analysts read and write SQL, and every fragment
is tested by compiling and running each dimension and measure on the synthetic city.

A spec for a file a city brings (``--data``) is built from column names by :func:`file_spec`.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ennakoiva.domain.registry import CATALOGUE_DIR
from ennakoiva.domain.types import Lang
from ennakoiva.domain.yaml_source import load_model

__all__ = [
    "ANALYTICS_DIR", "AnalyticsSpec", "Column", "Dimension", "Link", "Measure", "file_spec", "load_spec",
    "load_specs", "quote_ident", "safe_id",
]

ANALYTICS_DIR = CATALOGUE_DIR / "analytics"
Texts = dict[Lang, str]
AreaKind = Literal["district", "postal_area"]
_ID = r"^[a-z][a-z0-9_]*$"


class Link(BaseModel):
    """Facts from another table per unit: a flag (any matching row) or ``value`` (an aggregate)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=_ID)
    categories: list[str] = Field(min_length=1)
    source: str
    key: str
    #: the unit's expression the link's ``key`` matches (default: the spec's ``key``)
    on: str | None = None
    where: str | None = None
    value: str | None = None


class Column(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=_ID)
    expression: str


class Dimension(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=_ID)
    names: Texts
    expression: str
    #: areas are drawn on maps and carry the policy's area floor
    area: AreaKind | None = None
    #: display order of known values (others follow, sorted)
    order: list[str] = Field(default_factory=list)


class Measure(BaseModel):
    """A share: units where ``numerator`` holds among units where ``denominator`` holds."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=_ID)
    names: Texts
    numerator: str
    denominator: str = "true"
    denominator_names: Texts


class AnalyticsSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    version: int = Field(ge=1)
    names: Texts
    unit: Texts
    description: str = ""
    #: data categories the universe reads (the access decision covers these plus the links used)
    categories: list[str] = Field(default_factory=list)
    source: str
    select: str = "*"
    key: str | None = None
    where: str | None = None
    qualify: str | None = None
    #: SQL returning one date: the default reference date (``:as_of``)
    reference_date: str | None = None
    #: SQL expression counted per unit instead of 1 (a file of already-aggregated rows)
    weight: str | None = None
    links: list[Link] = Field(default_factory=list)
    columns: list[Column] = Field(default_factory=list)
    dimensions: list[Dimension] = Field(min_length=1)
    measures: list[Measure] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> AnalyticsSpec:
        for what, ids in (("link/column", [x.id for x in self.links] + [c.id for c in self.columns]),
                          ("dimension", [d.id for d in self.dimensions]), ("measure", [m.id for m in self.measures])):
            dup = sorted({i for i in ids if ids.count(i) > 1})
            if dup:
                raise ValueError(f"duplicate {what} ids: {', '.join(dup)}")
        if self.links and not self.key:
            raise ValueError("a spec with links needs a key")
        return self

    def dimension(self, dim_id: str) -> Dimension:
        for d in self.dimensions:
            if d.id == dim_id:
                return d
        raise ValueError(f"{self.id} has no dimension {dim_id!r}; it has {', '.join(d.id for d in self.dimensions)}")

    def measure(self, measure_id: str) -> Measure:
        for m in self.measures:
            if m.id == measure_id:
                return m
        known = ", ".join(m.id for m in self.measures) or "none"
        raise ValueError(f"{self.id} has no measure {measure_id!r}; it has {known}")


def load_spec(path: Path) -> AnalyticsSpec:
    """One spec file; errors name file, line and key."""
    return load_model(path, AnalyticsSpec)


@cache
def load_specs(directory: Path = ANALYTICS_DIR) -> dict[str, AnalyticsSpec]:
    """Every spec in the folder, by id."""
    specs = [load_spec(p) for p in sorted(directory.glob("*.yaml"))]
    return {s.id: s for s in specs}


def quote_ident(name: str) -> str:
    """A column name from a file as a quoted SQL identifier.

    >>> quote_ident('mother tongue'), quote_ident('a"b')
    ('"mother tongue"', '"a""b"')
    """
    return '"' + name.replace('"', '""') + '"'


_TRUE = "('1', 'true', 't', 'yes', 'y', 'kyllä', 'ja')"


def _truthy(column: str) -> str:
    return f"lower(trim(CAST({quote_ident(column)} AS VARCHAR))) IN {_TRUE}"


def _condition(text: str) -> str:
    """``COL`` (a yes/no column) or ``COL=VALUE`` / ``COL!=VALUE`` as SQL."""
    m = re.fullmatch(r"\s*([^=!]+?)\s*(!=|=)\s*(.*?)\s*", text)
    if not m:
        return _truthy(text.strip())
    col, op, value = m.groups()
    literal = "'" + value.replace("'", "''") + "'"
    return f"coalesce(CAST({quote_ident(col)} AS VARCHAR) {'<>' if op == '!=' else '='} {literal}, false)"


def file_spec(source_sql: str, columns: list[str], *, by: list[str], measure: str | None = None,
              denominator: str | None = None, areas: dict[str, AreaKind] | None = None,
              weight: str | None = None, name: str = "data") -> AnalyticsSpec:
    """A spec over a file a city brings: each row is a unit, dimensions are its columns.

    ``measure`` and ``denominator`` are a yes/no column (``1/0``, ``true/false``, ``yes/no``) or
    ``COLUMN=VALUE`` / ``COLUMN!=VALUE``; ``weight`` names a count column for aggregated rows.

    >>> s = file_spec("read_csv('p.csv')", ["district", "sex", "employed"], by=["district"], measure="employed")
    >>> s.dimension("district").expression, s.measures[0].id
    ('"district"', 'employed')
    """
    areas = areas or {}
    missing = [c for c in [*by, *([weight] if weight else [])] if c not in columns]
    for cond in (measure, denominator):
        if cond:
            col = re.split(r"!=|=", cond)[0].strip()
            if col not in columns:
                missing.append(col)
    if missing:
        raise ValueError(f"no column {', '.join(map(repr, missing))} in the data; it has {', '.join(columns)}")
    texts: Texts = {"fi": name, "sv": name, "en": name}
    dims = [Dimension(id=safe_id(c), names={"fi": c, "sv": c, "en": c}, expression=quote_ident(c),
                      area=areas.get(c)) for c in columns]
    measures = []
    if measure:
        den_names: Texts = {"fi": denominator or "rivit", "sv": denominator or "rader", "en": denominator or "rows"}
        measures.append(Measure(id=safe_id(measure), names={"fi": measure, "sv": measure, "en": measure},
                                numerator=_condition(measure),
                                denominator=_condition(denominator) if denominator else "true",
                                denominator_names=den_names))
    return AnalyticsSpec(id="data", version=1, names=texts, unit={"fi": "riviä", "sv": "rader", "en": "rows"},
                         description=f"rows of {name}", source=source_sql, dimensions=dims, measures=measures,
                         weight=f"CAST({quote_ident(weight)} AS BIGINT)" if weight else None)


def safe_id(column: str) -> str:
    out = re.sub(r"[^a-z0-9_]+", "_", column.lower()).strip("_") or "col"
    return out if out[0].isalpha() else f"c_{out}"
