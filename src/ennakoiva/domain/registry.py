"""The table registry: the single source of truth for tables, columns, types and code systems.

The loader validates against it, the engine creates tables from it, docs/data-model.md is
generated from it and the API schema reads it. One YAML file per table lives in
``ennakoiva/catalogue/tables``.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ennakoiva.domain.codes import CodeSystem, load_code_systems
from ennakoiva.domain.types import LANGS, Lang
from ennakoiva.domain.yaml_source import CatalogueError, load_model, load_yaml, location_of

__all__ = [
    "CATALOGUE_DIR", "ColumnSpec", "ColumnType", "DataCategory", "Registry", "TableSpec", "default_registry",
    "load_registry",
]

CATALOGUE_DIR = Path(__file__).resolve().parent.parent / "catalogue"

ColumnType = Literal["BIGINT", "INTEGER", "DOUBLE", "VARCHAR", "DATE", "TIMESTAMPTZ", "BOOLEAN"]


class ColumnSpec(BaseModel):
    """One column: its type, meaning and the rules a value must satisfy."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    type: ColumnType
    description: str
    nullable: bool = False
    code_system: str | None = None
    references: str | None = Field(default=None, pattern=r"^[a-z_]+\.[a-z_]+$")
    unit: str | None = None
    min: float | None = None
    max: float | None = None


class TableSpec(BaseModel):
    """One table of the resident data layer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    sector: str
    description: str
    primary_key: tuple[str, ...]
    personal: bool
    category: str | None = None      # data category (catalogue/data_categories.yaml) of personal tables
    columns: tuple[ColumnSpec, ...]

    @model_validator(mode="after")
    def _keys_are_columns(self) -> TableSpec:
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate column names in {names}")
        missing = [k for k in self.primary_key if k not in names]
        if missing:
            raise ValueError(f"primary key columns {missing} are not columns")
        if self.personal != (self.category is not None):
            raise ValueError("a personal table needs a data category, and only a personal table has one")
        return self

    def column(self, name: str) -> ColumnSpec:
        """The column called ``name`` (KeyError if none)."""
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"{self.name} has no column {name!r}")

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


class DataCategory(BaseModel):
    """A category of personal data as residents and the data-protection officer see it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    names: dict[Lang, str]
    description: dict[Lang, str]
    special: bool

    @model_validator(mode="after")
    def _all_languages(self) -> DataCategory:
        for field in (self.names, self.description):
            missing = [lang for lang in LANGS if not field.get(lang, "").strip()]
            if missing:
                raise ValueError(f"missing languages {missing}")
        return self


class Registry(BaseModel):
    """All tables and code systems, cross-checked (references resolve, code systems exist)."""

    model_config = ConfigDict(frozen=True)

    tables: dict[str, TableSpec]
    code_systems: dict[str, CodeSystem]
    categories: dict[str, DataCategory] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _cross_check(self) -> Registry:
        for table in self.tables.values():
            if table.category is not None and table.category not in self.categories:
                raise ValueError(f"{table.name}: unknown data category '{table.category}'")
            for col in table.columns:
                if col.code_system is not None and col.code_system not in self.code_systems:
                    raise ValueError(f"{table.name}.{col.name}: unknown code system '{col.code_system}'")
                if col.references is not None:
                    ref_table, ref_col = col.references.split(".")
                    target = self.tables.get(ref_table)
                    if target is None or ref_col not in target.column_names:
                        raise ValueError(f"{table.name}.{col.name}: reference {col.references} does not exist")
        return self

    def table(self, name: str) -> TableSpec:
        """The table called ``name`` with a helpful error listing the known ones."""
        try:
            return self.tables[name]
        except KeyError:
            raise KeyError(f"unknown table '{name}' (known: {', '.join(self.tables)})") from None

    def tables_in_category(self, category: str) -> list[str]:
        """Names of the tables holding a data category."""
        return sorted(t.name for t in self.tables.values() if t.category == category)

    def load_order(self) -> list[str]:
        """Tables ordered so that every referenced table comes before the tables referring to it."""
        order: list[str] = []
        seen: set[str] = set()

        def visit(name: str, stack: tuple[str, ...]) -> None:
            if name in seen:
                return
            if name in stack:
                raise ValueError(f"reference cycle: {' -> '.join((*stack, name))}")
            for col in self.tables[name].columns:
                if col.references is not None:
                    ref = col.references.split(".")[0]
                    if ref != name:
                        visit(ref, (*stack, name))
            seen.add(name)
            order.append(name)

        for name in sorted(self.tables):
            visit(name, ())
        return order


def load_registry(directory: Path = CATALOGUE_DIR) -> Registry:
    """Read every ``tables/*.yaml`` and ``code_systems.yaml``; errors name file and line."""
    code_systems = load_code_systems(directory / "code_systems.yaml")
    categories = _load_categories(directory / "data_categories.yaml")
    tables: dict[str, TableSpec] = {}
    for path in sorted((directory / "tables").glob("*.yaml")):
        spec = load_model(path, TableSpec, stem_field="name")
        tables[spec.name] = spec
    try:
        return Registry(tables=tables, code_systems=code_systems, categories=categories)
    except ValidationError as exc:
        raise CatalogueError(f"{directory}: {exc.errors()[0]['msg']}") from exc


def _load_categories(path: Path) -> dict[str, DataCategory]:
    doc = load_yaml(path)
    out: dict[str, DataCategory] = {}
    for name, body in doc.data.items():
        try:
            out[name] = DataCategory.model_validate(body)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = location_of(doc, (name, *err["loc"]))
            raise CatalogueError(f"{where}: data category '{name}': {err['msg']}") from exc
    return out


@cache
def default_registry() -> Registry:
    """The shipped registry, loaded once."""
    return load_registry()
