"""Use cases that describe or copy out an existing database: info and export."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ennakoiva.adapters.engine import DuckDBEngine
from ennakoiva.domain.ports import ExportFormat

__all__ = ["database_info", "export_database"]


def database_info(db: Path) -> dict[str, Any]:
    """Tables with row counts, date ranges and fingerprints, plus the size on disk."""
    with DuckDBEngine(db, read_only=True) as engine:
        stats = engine.stats()
        size = engine.size_bytes()
    return {
        "database": str(db),
        "size_bytes": size,
        "tables": [
            {"name": s.name, "rows": s.rows,
             "first_date": s.first_date.isoformat() if s.first_date else None,
             "last_date": s.last_date.isoformat() if s.last_date else None,
             "fingerprint": s.fingerprint}
            for s in stats
        ],
        "total_rows": sum(s.rows for s in stats),
    }


def export_database(db: Path, out: Path, fmt: ExportFormat) -> Iterator[tuple[str, Path]]:
    """Write every table to ``out`` as Parquet or CSV, yielding (table, file) as each finishes."""
    with DuckDBEngine(db, read_only=True) as engine:
        yield from engine.export(out, fmt)
