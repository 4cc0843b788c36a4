"""Registry tables through the API: the catalogue, population pages and one person's rows.

Every read of a personal table goes through the access gate first. A population page is one
decision with no subject (the decision permits it only under a statutory basis, never under
consent); one person's rows are read by ``AccessGate.read`` (decide, log, read, re-check).
Non-personal tables (service units, buildings, sensor readings) need no decision.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from ennakoiva.adapters.engine import DuckDBEngine
from ennakoiva.domain.consent.decision import Actor
from ennakoiva.domain.registry import Registry
from ennakoiva.platform.access import AccessDeniedError, AccessGate

__all__ = ["MAX_PAGE", "UnknownTableError", "jsonable_rows", "population_page", "subject_rows", "table_catalogue"]

MAX_PAGE = 1000


class UnknownTableError(LookupError):
    """A table name that is not in the registry (or not in this city's database)."""


def jsonable_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Dates as ISO strings, decimals as floats: rows ready for JSON."""
    def value(v: Any) -> Any:
        if isinstance(v, datetime | date):
            return v.isoformat()
        if isinstance(v, Decimal):
            return float(v)
        return v
    return [{k: value(v) for k, v in row.items()} for row in rows]


def table_catalogue(registry: Registry) -> list[dict[str, Any]]:
    """Every registry table with its columns, category and whether it holds personal data."""
    return [{"name": t.name, "description": t.description, "personal": t.personal, "category": t.category,
             "primary_key": list(t.primary_key),
             "columns": [{"name": c.name, "type": c.type, "nullable": c.nullable, "description": c.description,
                          "code_system": c.code_system, "unit": c.unit} for c in t.columns]}
            for t in registry.tables.values()]


def _spec(registry: Registry, engine: DuckDBEngine, table: str) -> Any:
    if table not in registry.tables or table not in engine.table_names():
        raise UnknownTableError(table)
    return registry.tables[table]


def population_page(gate: AccessGate, engine: DuckDBEngine, registry: Registry, actor: Actor, purpose_id: str,
                    table: str, *, limit: int, offset: int) -> dict[str, Any]:
    """One page of a table, ordered by its primary key; personal tables only with a permit."""
    spec = _spec(registry, engine, table)
    decision = None
    if spec.personal:
        decision = gate.decide(actor, purpose_id, None, (spec.category or "",))
        if not decision.permit:
            raise AccessDeniedError(decision)
    limit = max(1, min(limit, MAX_PAGE))
    order = ", ".join(f'"{k}"' for k in spec.primary_key)
    rows = engine.sql(f'SELECT * FROM "{spec.name}" ORDER BY {order} LIMIT $1 OFFSET $2',
                      [limit, max(0, offset)]).to_pylist()
    total = engine.sql(f'SELECT count(*) FROM "{spec.name}"').column(0)[0].as_py()
    return {"table": spec.name, "total": total, "limit": limit, "offset": offset, "rows": jsonable_rows(rows),
            "decision": decision.reason if decision else "not_personal"}


def subject_rows(gate: AccessGate, engine: DuckDBEngine, registry: Registry, actor: Actor, purpose_id: str,
                 person_id: int, tables: list[str], *, via_consent_of: int | None = None) -> dict[str, Any]:
    """One person's rows of ``tables`` under ``purpose_id`` (decided, logged, re-checked)."""
    for name in tables:
        if not _spec(registry, engine, name).personal:
            raise UnknownTableError(name)
    data = gate.read(engine, actor, purpose_id, person_id, tables, via_consent_of=via_consent_of)
    return {"person_id": person_id, "purpose_id": purpose_id,
            "tables": {name: jsonable_rows(t.to_pylist()) for name, t in data.items()}}
