"""The rows of one source file before any registry check, in a form both readers share."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pyarrow as pa

__all__ = ["BROKEN_SCHEMA", "SourceRows", "broken_rows"]

# Rows that could not even be split into the header's fields: where, why, and the text as read.
BROKEN_SCHEMA = pa.schema([("position", pa.int64()), ("reason", pa.string()), ("raw", pa.string())])


def broken_rows(positions: Sequence[int], reasons: Sequence[str], raws: Sequence[str]) -> pa.Table:
    return pa.table([pa.array(positions, pa.int64()), pa.array(reasons, pa.string()),
                     pa.array(raws, pa.string())], schema=BROKEN_SCHEMA)


@dataclass
class SourceRows:
    """A file's rows as columns named by its header.

    ``positions`` holds each row's physical line (CSV; the header is line 1) or row number
    (Parquet, from 1), which is what every reject points at. ``raw`` returns the original text
    of rows given by index, fetched only for rejected rows so that good rows cost nothing.
    """

    file: str
    header: list[str]
    columns: list[pa.Array]
    positions: pa.Array
    raw: Callable[[pa.Array], list[str]]
    broken: pa.Table = field(default_factory=BROKEN_SCHEMA.empty_table)
    header_raw: str = ""
    encoding: str | None = None
    delimiter: str | None = None

    @property
    def num_rows(self) -> int:
        """Rows that were split into fields (the broken ones are counted apart)."""
        return len(self.positions)

    @property
    def read(self) -> int:
        """Every data row of the file: the parsed ones and the broken ones."""
        return self.num_rows + self.broken.num_rows
