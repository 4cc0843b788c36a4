"""Load rows an importer has already put into registry shape, keeping where each row came from.

An importer (Synthea CSV, FHIR Bundles) reads a source that is not laid out like the registry,
converts it row by row, and hands the result here as :class:`StagedRows`: one batch per source file
and registry table, with every row's line (or record number) in the source file and a way to fetch
its original text. The batch then goes through exactly the checks ``load_folder`` applies to a CSV
file (``validate_rows``: types, codes, ranges, references, duplicate keys), good rows are upserted,
and problems go to the same rejects file, pointing at the *source* file and line.

Rows the importer could not convert (a code with no mapping, STOP before START) come with the batch
as :class:`Rejection` s and are written and counted with the rest, so that for every batch
``read = loaded + rejected`` still holds. A rejection marked ``excluded`` is a row left out by a
documented rule (an observation the data model has no place for, a social finding that is not a
diagnosis): it is in the rejects file and counted as rejected, but reported apart and left out of the
rejected share that decides whether a load is accepted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from ennakoiva.adapters.loading.cells import PROBLEM_SCHEMA
from ennakoiva.adapters.loading.errors import LoadError
from ennakoiva.adapters.loading.folder import _check_tables, _KnownKeys
from ennakoiva.adapters.loading.rejects import RejectsWriter
from ennakoiva.adapters.loading.report import FileReport, LoadReport
from ennakoiva.adapters.loading.source_rows import SourceRows
from ennakoiva.adapters.loading.validate import validate_rows
from ennakoiva.domain.registry import Registry, default_registry

__all__ = ["Rejection", "StagedFileReport", "StagedLoadReport", "StagedRows", "load_staged"]

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Rejection:
    """A source row the importer rejected itself: where, which source field, its value and why."""

    position: int
    column: str
    value: str
    reason: str
    raw: str
    excluded: bool = False  # left out by a documented rule rather than for a problem in the data


@dataclass
class StagedRows:
    """Rows of one registry table converted from one source file.

    ``columns`` maps every registry column to one value per row, as text (``None`` or ``""`` for
    empty), so that the loader's checks explain a bad value exactly as they would in a CSV file.
    ``positions`` is each row's line in ``file`` (or its record number: ``unit`` says which), and
    ``raw(indices)`` returns the source text of the rows at those indices. ``sources`` renames a
    registry column to the source field it came from in the rejects file, and ``shown`` gives the
    source value to show there (the patient's UUID rather than the derived ``person_id``).
    ``error`` rejects the whole file (``read`` rows counted as rejected); such a batch may name
    something other than a registry table (e.g. ``Bundle`` for an unreadable FHIR file) and is
    reported first.
    """

    table: str
    file: str
    columns: Mapping[str, Sequence[str | None]] = field(default_factory=dict)
    positions: Sequence[int] = ()
    raw: Callable[[Sequence[int]], list[str]] = lambda rows: ["" for _ in rows]
    sources: Mapping[str, str] = field(default_factory=dict)
    shown: Mapping[str, Sequence[str | None]] = field(default_factory=dict)
    rejected: list[Rejection] = field(default_factory=list)
    unit: str = "line"
    error: LoadError | None = None
    read: int = 0
    error_raw: str = ""
    warnings: list[str] = field(default_factory=list)


@dataclass
class StagedFileReport(FileReport):
    """A source file's rows for one table; ``excluded`` of the rejected ones were left out by rule."""

    excluded: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {**super().as_dict(), "excluded": self.excluded}


@dataclass
class StagedLoadReport(LoadReport):
    """A load of converted sources: the loader's accounting plus excluded rows and notes.

    The rejected share that decides acceptance counts only rows rejected for a problem, out of the
    rows in scope: ``(rejected - excluded) / (read - excluded)``.
    """

    source_format: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def excluded(self) -> int:
        return sum(getattr(f, "excluded", 0) for f in self.files)

    @property
    def rejected_share(self) -> float:
        in_scope = self.read - self.excluded
        return (self.rejected - self.excluded) / in_scope if in_scope else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**super().as_dict(), "format": self.source_format, "excluded": self.excluded,
                "notes": list(self.notes)}


def load_staged(engine: Any, batches: Iterable[StagedRows], *, source: Path, rejects_path: Path,
                max_reject_share: float = 0.01, source_format: str = "", skipped: Sequence[str] = (),
                notes: Sequence[str] = (), progress: Progress | None = None) -> StagedLoadReport:
    """Check and load every batch (in the registry's load order); rejects go to ``rejects_path``.

    ``engine`` is used as by ``load_folder``: ``upsert``, ``sql`` (or ``read``) and ``table_names``.
    """
    if not 0.0 <= max_reject_share <= 1.0:
        raise ValueError(f"max_reject_share must be between 0 and 1, not {max_reject_share}")
    registry: Registry = getattr(engine, "registry", None) or default_registry()
    order = {name: i for i, name in enumerate(registry.load_order())}
    staged = sorted(batches, key=lambda b: order.get(b.table, -1))  # stable: files keep their order
    unknown = sorted({b.table for b in staged if b.table not in order and b.error is None})
    if unknown:
        raise ValueError(f"staged rows for unknown table(s) {', '.join(unknown)}")
    _check_tables(engine, registry, sorted({b.table for b in staged if b.table in order}))
    report = StagedLoadReport(Path(source), Path(rejects_path), max_reject_share, skipped=list(skipped),
                              source_format=source_format, notes=list(notes))
    total = sum(len(b.positions) + len(b.rejected) for b in staged)
    done = 0
    tick: Progress = progress or (lambda _message, _done, _total: None)
    keys = _KnownKeys(engine)
    with RejectsWriter(Path(rejects_path)) as writer:
        for batch in staged:
            tick(f"{batch.file}: {batch.table}", done, total)
            report.files.append(_load_batch(engine, registry, batch, keys, writer))
            done += len(batch.positions) + len(batch.rejected)
    tick("done", total, total)
    return report


def _load_batch(engine: Any, registry: Registry, batch: StagedRows, keys: _KnownKeys,
                writer: RejectsWriter) -> StagedFileReport:
    entry = StagedFileReport(table=batch.table, file=batch.file, warnings=list(batch.warnings))
    if batch.error is not None:
        entry.error = str(batch.error)
        entry.read = entry.rejected = batch.read
        entry.problems = writer.file_error(batch.file, batch.error, batch.error_raw)
        return entry
    spec = registry.tables[batch.table]
    n = len(batch.positions)
    missing = [c for c in spec.column_names if c not in batch.columns]
    if missing or any(len(batch.columns[c]) != n for c in spec.column_names):
        raise ValueError(f"{batch.file}: staged {batch.table} rows need every column with {n} values "
                         f"(missing: {', '.join(missing) or 'none'})")
    header = list(spec.column_names)
    rows = SourceRows(file=batch.file, header=header,
                      columns=[pa.array(batch.columns[c], pa.string()) for c in header],
                      positions=pa.array(batch.positions, pa.int64()),
                      raw=lambda picked: batch.raw(picked.to_pylist()))
    checked = validate_rows(spec, registry, rows, keys, batch.file, batch.unit)
    entry.warnings += checked.warnings
    if checked.good.num_rows:
        entry.replaced, _inserted = engine.upsert(batch.table, checked.good)
        keys.forget(batch.table)
    problems = _relabel(checked.problems, batch)
    entry.problems = writer.rows(spec, _with_rejections(rows, batch), _add_rejections(problems, batch, n))
    entry.read = n + len(batch.rejected)
    entry.loaded = checked.good.num_rows
    entry.rejected = checked.rejected_rows + len(batch.rejected)
    entry.excluded = sum(r.excluded for r in batch.rejected)
    if entry.read != entry.loaded + entry.rejected:  # the promise of the report; never expected
        raise AssertionError(f"{batch.file}: read {entry.read} != loaded {entry.loaded} + rejected {entry.rejected}")
    return entry


def _relabel(problems: pa.Table, batch: StagedRows) -> pa.Table:
    """Name the source field (and show the source value) instead of the registry column where known."""
    if not problems.num_rows or not (batch.sources or batch.shown):
        return problems
    data = problems.to_pydict()
    for i, (row, column) in enumerate(zip(data["row"], data["column"], strict=True)):
        if column in batch.shown:
            data["value"][i] = batch.shown[column][row]
        if column in batch.sources:
            data["column"][i] = batch.sources[column]
    return pa.table(data, schema=PROBLEM_SCHEMA)


def _with_rejections(rows: SourceRows, batch: StagedRows) -> SourceRows:
    """``rows`` followed by the importer's rejections, so one rejects call sorts them all by line."""
    if not batch.rejected:
        return rows
    n = rows.num_rows
    positions = pa.array(np.concatenate([np.asarray(batch.positions, dtype=np.int64),
                                         np.array([r.position for r in batch.rejected], dtype=np.int64)]))

    def raw(picked: pa.Array) -> list[str]:
        indices = picked.to_pylist()
        own = batch.raw([i for i in indices if i < n])
        texts = iter(own)
        return [next(texts) if i < n else batch.rejected[i - n].raw for i in indices]

    return SourceRows(file=rows.file, header=rows.header, columns=rows.columns, positions=positions, raw=raw)


def _add_rejections(problems: pa.Table, batch: StagedRows, n: int) -> pa.Table:
    if not batch.rejected:
        return problems
    own = pa.table([pa.array(range(n, n + len(batch.rejected)), pa.int64()),
                    pa.array([r.column for r in batch.rejected], pa.string()),
                    pa.array([r.value for r in batch.rejected], pa.string()),
                    pa.array([r.reason for r in batch.rejected], pa.string())], schema=PROBLEM_SCHEMA)
    return pa.concat_tables([problems, own])
