"""Read a Parquet file into the same shape as a CSV file: columns named by the file's schema.

Values keep their Parquet types; the checks cast them with the same rules as CSV text. A row's
position is its row number from 1, and its raw form is the row's values as JSON.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ennakoiva.adapters.loading.errors import LoadError
from ennakoiva.adapters.loading.source_rows import SourceRows

__all__ = ["read_parquet"]


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def read_parquet(path: Path) -> SourceRows:
    """Every row of ``path``; an unreadable file raises LoadError naming it."""
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise LoadError(f"{path.name}: not a readable Parquet file ({exc})") from None
    header = [name.replace("\ufeff", "").strip() for name in table.column_names]
    columns = [c.combine_chunks() if isinstance(c, pa.ChunkedArray) else c for c in table.columns]
    columns = [c.dictionary_decode() if pa.types.is_dictionary(c.type) else c for c in columns]
    names = list(table.column_names)

    def raw(rows: pa.Array) -> list[str]:
        picked = table.take(rows).to_pylist()
        return [json.dumps({n: row[n] for n in names}, ensure_ascii=False, default=_json_value)
                for row in picked]

    return SourceRows(file=path.name, header=header, columns=columns,
                      positions=pa.array(np.arange(1, table.num_rows + 1, dtype=np.int64)), raw=raw,
                      header_raw=", ".join(names))
