"""Check every row of a file against its registry table; split it into good rows and problems."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ennakoiva.adapters.engine.arrow_schema import arrow_schema
from ennakoiva.adapters.loading.cells import PROBLEM_SCHEMA, convert_column
from ennakoiva.adapters.loading.header import match_header
from ennakoiva.adapters.loading.keys import KeyLookup, duplicate_problems, reference_problems
from ennakoiva.adapters.loading.source_rows import SourceRows
from ennakoiva.domain.registry import Registry, TableSpec

__all__ = ["Validated", "validate_rows"]


@dataclass
class Validated:
    """The rows that passed every check (in the registry's schema) and one problem per failure."""

    good: pa.Table
    problems: pa.Table  # PROBLEM_SCHEMA; ``row`` indexes the SourceRows
    rejected_rows: int  # distinct rows with at least one problem
    warnings: list[str]


def validate_rows(spec: TableSpec, registry: Registry, rows: SourceRows, lookup: KeyLookup,
                  where: str, unit: str = "line") -> Validated:
    """Types, NOT NULL, code systems and ranges per cell; then references; then duplicate keys.

    References are checked on every row with a well-typed value, so a row shows all its problems.
    Duplicates are looked for only among rows with no other problem, so a rejected duplicate
    always points at a line that was loaded.
    """
    positions, warnings = match_header(spec, rows.header, where)
    n = rows.num_rows
    typed: dict[str, pa.Array] = {}
    found: list[pa.Table] = []
    bad = pa.repeat(False, n)
    for col in spec.columns:
        source = rows.columns[positions[col.name]] if col.name in positions else None
        system = registry.code_systems[col.code_system] if col.code_system else None
        converted = convert_column(source, col, n, system, where)
        typed[col.name] = converted.values
        found += converted.problems
        bad = pc.or_(bad, converted.bad)
    for col in spec.columns:
        if col.references is None:
            continue
        ref_table, ref_column = col.references.split(".")
        own = None
        if ref_table == spec.name:  # a self-reference may point at a row of the same file
            own = pc.filter(typed[ref_column], pc.invert(bad))
        problems = reference_problems(col, typed[col.name], lookup, own)
        if problems.num_rows:
            found.append(problems)
            bad = pc.or_(bad, _mask(n, problems["row"]))
    duplicates = duplicate_problems(spec, typed, pc.indices_nonzero(pc.invert(bad)).cast(pa.int64()),
                                    rows.positions, unit)
    if duplicates.num_rows:
        found.append(duplicates)
        bad = pc.or_(bad, _mask(n, duplicates["row"]))
    schema = arrow_schema(spec)
    good = pa.Table.from_arrays([typed[c.name].cast(schema.field(c.name).type) for c in spec.columns],
                                names=list(spec.column_names))
    good = good.filter(pc.invert(bad)) if n else good
    problems_table = pa.concat_tables(found) if found else PROBLEM_SCHEMA.empty_table()
    return Validated(good, problems_table, n - good.num_rows, warnings)


def _mask(n: int, rows: pa.ChunkedArray | pa.Array) -> pa.Array:
    """A boolean array of length ``n``, true at ``rows``."""
    mask = np.zeros(n, dtype=bool)
    mask[rows.to_numpy()] = True
    return pa.array(mask)
