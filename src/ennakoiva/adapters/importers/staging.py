"""Collect one registry table's rows from one source file, with where each row came from."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from ennakoiva.adapters.importers.common import Problem
from ennakoiva.adapters.loading.staged import Rejection, StagedRows
from ennakoiva.domain.registry import default_registry

__all__ = ["Batch"]

RawOf = Callable[[list[int]], list[str]]


class Batch:
    """Rows of ``table`` from ``file``: each with its position, a reference to its raw text, and
    optionally the source value to show for a derived column (the UUID behind ``person_id``)."""

    def __init__(self, table: str, file: str, *, sources: Mapping[str, str] | None = None, unit: str = "line",
                 shown: tuple[str, ...] = ()) -> None:
        self.table, self.file, self.unit = table, file, unit
        self.names = default_registry().table(table).column_names
        self.columns: dict[str, list[str | None]] = {c: [] for c in self.names}
        self.sources = dict(sources or {})
        self.shown: dict[str, list[str | None]] = {c: [] for c in shown}
        self.positions: list[int] = []
        self.refs: list[int] = []
        self.problems: list[tuple[int, int, Problem, str | None]] = []
        self.warnings: list[str] = []

    def __len__(self) -> int:
        return len(self.positions) + len(self.problems)

    def add(self, position: int, ref: int, values: Mapping[str, str | None],
            shown: Mapping[str, str | None] | None = None) -> None:
        """One row; ``values`` must name every column of the table."""
        for name in self.names:
            self.columns[name].append(values[name])
        for name, column in self.shown.items():
            column.append((shown or {}).get(name, values[name]))
        self.positions.append(position)
        self.refs.append(ref)

    def reject(self, position: int, ref: int, problem: Problem, raw: str | None = None) -> None:
        """One rejected row; its raw text is fetched through ``ref`` unless given."""
        self.problems.append((position, ref, problem, raw))

    def build(self, raw_of: RawOf) -> StagedRows:
        """The rows as the loader takes them; raw texts are fetched now only for rejected rows."""
        refs = self.refs
        wanted = [ref for _, ref, _, raw in self.problems if raw is None]
        fetched = iter(raw_of(wanted) if wanted else [])
        rejected = [Rejection(position, p.column, p.value, p.reason, next(fetched) if raw is None else raw,
                              p.excluded) for position, _, p, raw in self.problems]
        return StagedRows(table=self.table, file=self.file, columns=self.columns, positions=self.positions,
                          raw=lambda rows: raw_of([refs[i] for i in rows]), sources=self.sources,
                          shown=self.shown, rejected=rejected, unit=self.unit, warnings=self.warnings)
