"""Load a folder of a city's own CSV or Parquet files into the resident data layer.

Files are loaded in the registry's load order, so that a reference (``person.household_id``) can
be checked against the rows loaded just before it. Good rows are upserted by primary key, which
makes a re-run idempotent; every rejected row is written to the rejects file and counted, so that
for every file ``read = loaded + rejected``.

Problems come in three sizes. A bad cell or key rejects its row. A bad file (missing or extra
columns, an undecodable byte, an unreadable Parquet file) rejects the whole file: it is recorded
in the report and the rejects file, its rows count as rejected, and the other files still load.
A bad folder (missing, no data files, a file named after no table) raises ``LoadError`` before
anything is written.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ennakoiva.adapters.loading.csv_source import read_csv
from ennakoiva.adapters.loading.errors import LoadError
from ennakoiva.adapters.loading.parquet_source import read_parquet
from ennakoiva.adapters.loading.rejects import RejectsWriter
from ennakoiva.adapters.loading.report import FileReport, LoadReport
from ennakoiva.adapters.loading.source_rows import SourceRows
from ennakoiva.adapters.loading.validate import validate_rows
from ennakoiva.domain.registry import Registry, default_registry

__all__ = ["SourceFormat", "find_source_files", "load_folder"]

SourceFormat = Literal["csv", "parquet"]
Progress = Callable[[str, int, int], None]
_EXTENSIONS: dict[str, SourceFormat] = {".csv": "csv", ".parquet": "parquet"}
DEFAULT_REJECTS = "rejects.csv"


def find_source_files(source_dir: Path, registry: Registry, fmt: SourceFormat | None = None,
                      rejects_path: Path | None = None) -> tuple[list[tuple[str, Path, SourceFormat]], list[str]]:
    """The (table, file, format) to load in load order, and what was skipped with why.

    A ``.csv``/``.parquet`` file named after no table is an error rather than a skip: a typo
    such as ``persons.csv`` would otherwise leave a table empty without anyone noticing.
    """
    if not source_dir.exists():
        raise FileNotFoundError(f"no such folder: {source_dir}")
    if not source_dir.is_dir():
        raise LoadError(f"{source_dir} is not a folder; give the folder that holds the table files")
    rejects = rejects_path.resolve() if rejects_path else None
    found: dict[str, list[tuple[Path, SourceFormat]]] = {}
    skipped: list[str] = []
    unknown: list[str] = []
    for path in sorted(source_dir.iterdir()):
        if path.name.startswith("."):
            continue
        why = _skip_reason(path, fmt, rejects)
        if why is not None:
            skipped.append(f"{path.name}: {why}")
        elif path.stem not in registry.tables:
            close = difflib.get_close_matches(path.stem.lower(), list(registry.tables), n=1)
            unknown.append(path.name + (f" (did you mean {close[0]}{path.suffix}?)" if close else ""))
        else:
            found.setdefault(path.stem, []).append((path, _EXTENSIONS[path.suffix.lower()]))
    if unknown:
        raise LoadError(f"{source_dir}: file(s) named after no registry table: {', '.join(unknown)}; "
                        f"name each file after its table ({', '.join(registry.tables)})")
    twice = [f"{' and '.join(p.name for p, _ in paths)}" for paths in found.values() if len(paths) > 1]
    if twice:
        raise LoadError(f"{source_dir}: more than one file for the same table: {'; '.join(twice)}; "
                        "keep one, or choose with the format option")
    if not found:
        raise LoadError(f"{source_dir}: no .csv or .parquet file named after a registry table")
    files = [(name, *found[name][0]) for name in registry.load_order() if name in found]
    return files, skipped


def _skip_reason(path: Path, fmt: SourceFormat | None, rejects: Path | None) -> str | None:
    kind = _EXTENSIONS.get(path.suffix.lower())
    if path.resolve() == rejects or path.name == DEFAULT_REJECTS:
        return "a rejects file"
    if path.is_dir():
        return "a folder"
    if kind is None:
        return "not a .csv or .parquet file"
    if fmt is not None and kind != fmt:
        return f"not {fmt} (the format asked for)"
    return None


class _KnownKeys:
    """Values of referenced key columns, read from the database once and re-read after an upsert."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.cache: dict[tuple[str, str], pa.Array] = {}

    def __call__(self, table: str, column: str) -> pa.Array:
        if (table, column) not in self.cache:
            if hasattr(self.engine, "sql"):
                values = self.engine.sql(
                    f'SELECT DISTINCT "{column}" FROM "{table}" WHERE "{column}" IS NOT NULL').column(0)
            else:
                values = pc.unique(self.engine.read(table, [column]).column(0))
            self.cache[(table, column)] = values.combine_chunks() if isinstance(
                values, pa.ChunkedArray) else values
        return self.cache[(table, column)]

    def forget(self, table: str) -> None:
        self.cache = {k: v for k, v in self.cache.items() if k[0] != table}


def _rough_row_count(path: Path, kind: SourceFormat) -> int:
    """Data rows of a file that could not be parsed: non-blank lines after the header."""
    try:
        if kind == "parquet":
            return int(pq.ParquetFile(path).metadata.num_rows)
        return max(0, sum(1 for line in path.read_bytes().split(b"\n") if line.strip()) - 1)
    except (OSError, pa.ArrowException):
        return 0


def _check_tables(engine: Any, registry: Registry, tables: list[str]) -> None:
    if not hasattr(engine, "table_names"):
        return
    needed = set(tables)
    for name in tables:
        needed |= {c.references.split(".")[0] for c in registry.tables[name].columns if c.references}
    missing = sorted(needed - set(engine.table_names()))
    if missing:
        raise LoadError(f"the database has no table(s) {', '.join(missing)}; create the tables first")


def load_folder(engine: Any, source_dir: Path, *, fmt: SourceFormat | None = None,
                rejects_path: Path | None = None, encoding: str | None = None,
                max_reject_share: float = 0.01, progress: Progress | None = None) -> LoadReport:
    """Validate and load every table file in ``source_dir``; rejects go to ``rejects_path``.

    ``engine`` is used only through ``upsert``, ``sql`` (or ``read``) and ``table_names``.
    ``progress(message, done_bytes, total_bytes)`` is called as each file moves on.
    """
    if not 0.0 <= max_reject_share <= 1.0:
        raise ValueError(f"max_reject_share must be between 0 and 1, not {max_reject_share}")
    source_dir = Path(source_dir)
    registry: Registry = getattr(engine, "registry", None) or default_registry()
    rejects = Path(rejects_path) if rejects_path else source_dir / DEFAULT_REJECTS
    if rejects.stem in registry.tables and rejects.parent.resolve() == source_dir.resolve():
        raise LoadError(f"{rejects}: the rejects file would replace a table file; choose another name")
    files, skipped = find_source_files(source_dir, registry, fmt, rejects)
    _check_tables(engine, registry, [name for name, _, _ in files])
    report = LoadReport(source_dir, rejects, max_reject_share, skipped=skipped)
    total = sum(path.stat().st_size for _, path, _ in files)
    done = 0
    tick: Progress = progress or (lambda _message, _done, _total: None)
    keys = _KnownKeys(engine)
    with RejectsWriter(rejects) as writer:
        for table, path, kind in files:
            def step(what: str, name: str = path.name, at: int = done) -> None:
                tick(f"{name}: {what}", at, total)

            step("reading")
            report.files.append(_load_file(engine, registry, table, path, kind, encoding, keys, writer, step))
            done += path.stat().st_size
            tick(f"{path.name}: done", done, total)
    return report


def _load_file(engine: Any, registry: Registry, table: str, path: Path, kind: SourceFormat,
               encoding: str | None, keys: _KnownKeys, writer: RejectsWriter,
               step: Callable[[str], None]) -> FileReport:
    spec = registry.tables[table]
    entry = FileReport(table=table, file=path.name)
    rows: SourceRows | None = None
    try:
        rows = read_csv(path, encoding) if kind == "csv" else read_parquet(path)
        entry.encoding, entry.delimiter = rows.encoding, rows.delimiter
        step("checking")
        where = f"{path.name}: line 1" if kind == "csv" else path.name
        checked = validate_rows(spec, registry, rows, keys, where, "line" if kind == "csv" else "row")
    except LoadError as exc:
        entry.error = str(exc)
        entry.read = rows.read if rows is not None else _rough_row_count(path, kind)
        entry.rejected = entry.read
        if kind == "parquet":
            exc.line = None  # Parquet has row numbers, and the problem is not in any row
        entry.problems = writer.file_error(path.name, exc, rows.header_raw if rows is not None else "")
        return entry
    entry.warnings = checked.warnings
    if checked.good.num_rows:
        step("storing")
        entry.replaced, _inserted = engine.upsert(table, checked.good)
        keys.forget(table)
    entry.problems = writer.rows(spec, rows, checked.problems)
    entry.read = rows.read
    entry.loaded = checked.good.num_rows
    entry.rejected = rows.broken.num_rows + checked.rejected_rows
    if entry.read != entry.loaded + entry.rejected:  # the promise of the report; never expected
        raise AssertionError(f"{path.name}: read {entry.read} != loaded {entry.loaded} + rejected {entry.rejected}")
    return entry
