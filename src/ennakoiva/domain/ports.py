"""Ports: what the domain and the use cases need from the outside, as Protocols.

The data engine is deliberately narrow — write batches, read tables, describe, export — so that a
Spark engine can implement the same contract later.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal, Protocol

__all__ = ["DataEngine", "ExportFormat", "TableSink", "TableStats"]

ExportFormat = Literal["parquet", "csv"]


@dataclass(frozen=True)
class TableStats:
    """What ``ennakoiva info`` shows for one table."""

    name: str
    rows: int
    first_date: date | None
    last_date: date | None
    fingerprint: str


class TableSink(Protocol):
    """Anything that accepts batches of rows for a named table (Arrow tables, record batches)."""

    def append(self, table: str, batch: Any) -> None: ...


class DataEngine(TableSink, Protocol):
    """The one interface the rest of Ennakoiva uses to store and read the resident data layer."""

    def create_tables(self, *, replace: bool) -> None: ...

    def delete_where(self, table: str, column: str, values: Any) -> int: ...

    def read(self, table: str, columns: list[str] | None = None) -> Any: ...

    def table_names(self) -> list[str]: ...

    def stats(self) -> list[TableStats]: ...

    def size_bytes(self) -> int: ...

    def export(self, out_dir: Path, fmt: ExportFormat) -> Iterator[tuple[str, Path]]: ...

    def close(self) -> None: ...
