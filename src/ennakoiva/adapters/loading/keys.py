"""Key checks across rows: duplicate primary keys within a file, and references to other tables."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ennakoiva.adapters.loading.cells import PROBLEM_SCHEMA
from ennakoiva.domain.registry import ColumnSpec, TableSpec

__all__ = ["KeyLookup", "duplicate_problems", "reference_problems"]

# Values of ``table.column`` that exist (already stored, or loaded earlier in this run).
KeyLookup = Callable[[str, str], pa.Array]


def _key_codes(columns: list[pa.Array]) -> np.ndarray | None:
    """One int64 per row that is equal exactly when the key columns are, or None if too wide.

    Each column is dictionary-encoded and the codes combined in mixed radix: grouping one integer
    array is several times faster than grouping strings, dates and integers together.
    """
    codes = np.zeros(len(columns[0]), dtype=np.int64)
    width = 1
    for column in columns:
        encoded = pc.dictionary_encode(column)
        size = len(encoded.dictionary) + 1  # the extra code stands for NULL
        if width * size >= 2**62:
            return None
        indices = pc.fill_null(encoded.indices, size - 1).to_numpy().astype(np.int64)
        codes = codes * size + indices
        width *= size
    return codes


def _first_rows(columns: list[pa.Array], rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(later rows, first row with the same key) for every repeated key; ``rows`` ascend."""
    codes = _key_codes(columns)
    if codes is None:  # keys too wide to pack: let Arrow group them
        table = pa.table({**{f"k{i}": c for i, c in enumerate(columns)}, "__row": rows})
        groups = table.group_by([f"k{i}" for i in range(len(columns))], use_threads=False).aggregate(
            [("__row", "min")])
        joined = table.join(groups, keys=[f"k{i}" for i in range(len(columns))])
        later = joined.filter(pc.not_equal(joined["__row"], joined["__row_min"])).sort_by("__row")
        return later["__row"].to_numpy(), later["__row_min"].to_numpy()
    packed = np.sort(codes)
    if not (packed[1:] == packed[:-1]).any():
        return np.empty(0, np.int64), np.empty(0, np.int64)
    order = np.argsort(codes, kind="stable")
    ordered = codes[order]
    starts = np.ones(len(codes), dtype=bool)
    starts[1:] = ordered[1:] != ordered[:-1]
    first_at = np.maximum.accumulate(np.where(starts, np.arange(len(codes)), 0))
    repeat = ~starts
    later, first = rows[order[repeat]], rows[order[first_at[repeat]]]
    by_row = np.argsort(later, kind="stable")
    return later[by_row], first[by_row]


def duplicate_problems(spec: TableSpec, typed: dict[str, pa.Array], candidates: pa.Array,
                       positions: pa.Array, unit: str = "line") -> pa.Table:
    """Rows (among ``candidates``, indices of otherwise good rows) repeating an earlier row's key.

    The first row with a key is kept; each later one is rejected naming the line it repeats.
    """
    keys = list(spec.primary_key)
    if len(candidates) == 0:
        return PROBLEM_SCHEMA.empty_table()
    columns = [pc.take(typed[k], candidates) for k in keys]
    later, first = _first_rows(columns, candidates.to_numpy())
    if len(later) == 0:
        return PROBLEM_SCHEMA.empty_table()
    later_rows = pa.array(later, pa.int64())
    shown = [pc.take(typed[k], later_rows).cast(pa.string()) for k in keys]
    value = pc.binary_join_element_wise(*shown, "|") if len(shown) > 1 else shown[0]
    first_line = pc.take(positions, pa.array(first, pa.int64())).cast(pa.string())
    what = f"duplicate primary key ({', '.join(keys)}): the same key as {unit} "
    reasons = pc.binary_join_element_wise(what, first_line, "")
    return pa.table([later_rows, pa.repeat(",".join(keys), len(later)), value, reasons],
                    schema=PROBLEM_SCHEMA)


def reference_problems(col: ColumnSpec, values: pa.Array, lookup: KeyLookup,
                       own: pa.Array | None = None) -> pa.Table:
    """Rows whose ``col`` value is not a key of the table it references (NULL is fine)."""
    assert col.references is not None
    ref_table, ref_column = col.references.split(".")
    known = lookup(ref_table, ref_column).cast(values.type)
    if own is not None:
        known = pa.concat_arrays([known, own.cast(values.type)])
    missing = pc.and_(pc.is_valid(values), pc.invert(pc.is_in(values, value_set=known)))
    rows = pc.indices_nonzero(missing).cast(pa.int64())
    n = len(rows)
    reason = (f"no {ref_table} with this {ref_column} (references {col.references}; not in the "
              f"database nor among the good rows of this load)")
    return pa.table([rows, pa.repeat(col.name, n), pc.take(values, rows).cast(pa.string()),
                     pa.repeat(reason, n)], schema=PROBLEM_SCHEMA)
