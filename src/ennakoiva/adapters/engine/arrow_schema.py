"""Registry column types as Arrow types: the one mapping every adapter shares."""

from __future__ import annotations

import pyarrow as pa

from ennakoiva.domain.registry import ColumnType, TableSpec

__all__ = ["ARROW_TYPES", "arrow_schema"]

ARROW_TYPES: dict[ColumnType, pa.DataType] = {
    "BIGINT": pa.int64(),
    "INTEGER": pa.int32(),
    "DOUBLE": pa.float64(),
    "VARCHAR": pa.string(),
    "DATE": pa.date32(),
    "TIMESTAMPTZ": pa.timestamp("us", tz="UTC"),
    "BOOLEAN": pa.bool_(),
}


def arrow_schema(spec: TableSpec) -> pa.Schema:
    """The Arrow schema of a registry table, nullability included."""
    return pa.schema([pa.field(c.name, ARROW_TYPES[c.type], nullable=c.nullable) for c in spec.columns])
