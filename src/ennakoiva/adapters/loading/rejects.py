"""The rejects file: one CSV row per problem, pointing at the file, line and column to fix."""

from __future__ import annotations

import csv
from pathlib import Path
from types import TracebackType

import pyarrow as pa
import pyarrow.compute as pc

from ennakoiva.adapters.loading.errors import LoadError
from ennakoiva.adapters.loading.source_rows import SourceRows
from ennakoiva.domain.registry import TableSpec

__all__ = ["REJECT_COLUMNS", "RejectsWriter"]

REJECT_COLUMNS = ("file", "line", "column", "value", "reason", "raw")


class RejectsWriter:
    """Writes ``file, line, column, value, reason, raw`` rows, sorted by line within each file.

    The file is rewritten by every load (a header alone when nothing was rejected), so a rejects
    file never describes an earlier run.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = path.open("w", encoding="utf-8", newline="")
        self._writer = csv.writer(self._handle)
        self._writer.writerow(REJECT_COLUMNS)

    def file_error(self, file: str, error: LoadError, raw: str = "") -> int:
        """Record a whole-file rejection as one row; returns 1."""
        self._writer.writerow((file, error.line or "", error.column or "", "", str(error), raw))
        return 1

    def rows(self, spec: TableSpec, source: SourceRows, problems: pa.Table) -> int:
        """Record a file's broken rows and cell/key problems; returns how many rows were written."""
        order = {name: i for i, name in enumerate(spec.column_names)}
        out: list[tuple[int, int, str, str, str, str]] = []
        broken = source.broken.to_pydict()
        for line, reason, raw in zip(broken["position"], broken["reason"], broken["raw"], strict=True):
            out.append((line, -1, "", "", reason, raw))
        if problems.num_rows:
            rows = problems["row"].combine_chunks()
            unique = pc.unique(rows)
            raws = dict(zip(unique.to_pylist(), source.raw(unique), strict=True))
            lines = pc.take(source.positions, rows).to_pylist()
            for line, row, column, value, reason in zip(lines, rows.to_pylist(), problems["column"].to_pylist(),
                                                        problems["value"].to_pylist(),
                                                        problems["reason"].to_pylist(), strict=True):
                first = column.split(",")[0]
                out.append((line, order.get(first, len(order)), column, value or "", reason, raws[row]))
        out.sort(key=lambda r: (r[0], r[1]))
        self._writer.writerows((source.file, line, column, value, reason, raw)
                               for line, _order, column, value, reason, raw in out)
        return len(out)

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> RejectsWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
