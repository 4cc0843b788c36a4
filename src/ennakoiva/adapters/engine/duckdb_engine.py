"""The embedded default engine: one DuckDB file holding every registry table.

Tables are created from the registry. Primary keys are *not* declared as DuckDB constraints: an
ART index over tens of millions of event keys costs more memory and time than the whole load, and
uniqueness is already guaranteed by the synthesiser (by construction) and by the loader (checked).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from ennakoiva.adapters.engine.arrow_schema import arrow_schema
from ennakoiva.domain.consent.decision import Decision
from ennakoiva.domain.ports import ExportFormat, TableStats
from ennakoiva.domain.registry import Registry, TableSpec, default_registry

__all__ = ["DuckDBEngine"]


def _ddl(spec: TableSpec) -> str:
    cols = ", ".join(f'"{c.name}" {c.type}{"" if c.nullable else " NOT NULL"}' for c in spec.columns)
    return f'CREATE TABLE "{spec.name}" ({cols})'


class DuckDBEngine:
    """Store and read the resident data layer in one DuckDB file (or ``:memory:``)."""

    def __init__(self, path: Path | str, registry: Registry | None = None, *, read_only: bool = False,
                 threads: int | None = None, memory_limit: str | None = None) -> None:
        self.path = Path(path) if str(path) != ":memory:" else None
        self.registry = registry or default_registry()
        if self.path is not None and read_only and not self.path.exists():
            raise FileNotFoundError(f"no database at {self.path}")
        config: dict[str, Any] = {}
        if threads:
            config["threads"] = threads
        if memory_limit:
            config["memory_limit"] = memory_limit
        self.con = duckdb.connect(str(path), read_only=read_only, config=config)

    # -- writing -----------------------------------------------------------------------------
    def create_tables(self, *, replace: bool) -> None:
        """Create every registry table (dropping existing ones first when ``replace``)."""
        existing = set(self.table_names())
        for name in self.registry.load_order():
            if name in existing:
                if not replace:
                    continue
                self.con.execute(f'DROP TABLE "{name}"')
            self.con.execute(_ddl(self.registry.tables[name]))

    def append(self, table: str, batch: Any) -> None:
        """Append an Arrow table/record batch whose columns follow the registry table."""
        spec = self.registry.table(table)
        data = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
        if data.num_rows == 0:
            return
        data = data.select(list(spec.column_names)).cast(arrow_schema(spec))
        self.con.register("_ennakoiva_batch", data)
        try:
            self.con.execute(f'INSERT INTO "{table}" SELECT * FROM _ennakoiva_batch')
        finally:
            self.con.unregister("_ennakoiva_batch")

    def append_free(self, table: str, data: pa.Table) -> None:
        """Append to a table outside the registry (e.g. the truth file), creating it on first use."""
        self.con.register("_ennakoiva_batch", data)
        try:
            if table in self.table_names():
                self.con.execute(f'INSERT INTO "{table}" SELECT * FROM _ennakoiva_batch')
            else:
                self.con.execute(f'CREATE TABLE "{table}" AS SELECT * FROM _ennakoiva_batch')
        finally:
            self.con.unregister("_ennakoiva_batch")

    def upsert(self, table: str, batch: pa.Table) -> tuple[int, int]:
        """Replace rows with the same primary key, insert the rest; returns (replaced, inserted).

        This is what makes re-running a load idempotent: the same file twice leaves one copy.
        """
        spec = self.registry.table(table)
        data = batch.select(list(spec.column_names)).cast(arrow_schema(spec))
        if data.num_rows == 0:
            return 0, 0
        keys = " AND ".join(f't."{k}" IS NOT DISTINCT FROM b."{k}"' for k in spec.primary_key)
        self.con.register("_ennakoiva_batch", data)
        try:
            self.con.execute("BEGIN TRANSACTION")
            row = self.con.execute(
                f'DELETE FROM "{table}" t WHERE EXISTS (SELECT 1 FROM _ennakoiva_batch b WHERE {keys})'
            ).fetchall()[0]
            self.con.execute(f'INSERT INTO "{table}" SELECT * FROM _ennakoiva_batch')
            self.con.execute("COMMIT")
        except Exception:
            self.con.execute("ROLLBACK")
            raise
        finally:
            self.con.unregister("_ennakoiva_batch")
        replaced = int(row[0]) if row else 0
        return replaced, data.num_rows - replaced

    def delete_where(self, table: str, column: str, values: Any) -> int:
        """Delete rows whose ``column`` is in ``values`` (an Arrow array); used for idempotent reloads."""
        self.registry.table(table).column(column)
        keys = pa.table({"k": values})
        self.con.register("_ennakoiva_keys", keys)
        try:
            row = self.con.execute(
                f'DELETE FROM "{table}" WHERE "{column}" IN (SELECT k FROM _ennakoiva_keys)').fetchall()[0]
        finally:
            self.con.unregister("_ennakoiva_keys")
        return int(row[0]) if row else 0

    def checkpoint(self) -> None:
        self.con.execute("CHECKPOINT")

    # -- reading -----------------------------------------------------------------------------
    def table_names(self) -> list[str]:
        rows = self.con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' ORDER BY 1"
        ).fetchall()
        return [r[0] for r in rows]

    def read(self, table: str, columns: list[str] | None = None) -> pa.Table:
        """A whole table as Arrow (for tests, export and small tables)."""
        if table not in self.table_names():
            raise KeyError(f"table '{table}' is not in {self.path or 'the database'}")
        cols = ", ".join(f'"{c}"' for c in columns) if columns else "*"
        return self.con.sql(f'SELECT {cols} FROM "{table}"').to_arrow_table()

    def read_subject(self, table: str, subject_id: int, decision: Decision) -> pa.Table:
        """One person's rows of a personal table — only with a permit for that person and category.

        This is where the data layer refuses a read that carries no decision: the caller must hold
        the ``Decision`` the access gate made (and logged) for this subject and data category.
        """
        spec = self.registry.table(table)
        if not isinstance(decision, Decision) or not decision.permit:
            raise PermissionError(f"reading {table} needs a permitting access decision")
        if decision.subject_id != subject_id:
            raise PermissionError("the access decision was made for another subject")
        if spec.category is None or spec.category not in decision.categories:
            raise PermissionError(f"the access decision does not cover the {spec.category or 'non-personal'} "
                                  f"data of {table}")
        if "person_id" in spec.column_names:
            where = '"person_id" = $1'
            if "related_person_id" in spec.column_names:
                where += ' OR "related_person_id" = $1'
        elif "household_id" in spec.column_names:
            where = '"household_id" IN (SELECT household_id FROM person WHERE person_id = $1)'
        else:  # pragma: no cover - the registry test guarantees every personal table has a subject key
            raise PermissionError(f"{table} has no subject key")
        order = ", ".join(f'"{k}"' for k in spec.primary_key)
        return self.con.sql(f'SELECT * FROM "{table}" WHERE {where} ORDER BY {order}',
                            params=[subject_id]).to_arrow_table()

    def sql(self, query: str, params: list[Any] | None = None) -> pa.Table:
        """Run a read query and return Arrow; adapters above the engine use this, never duckdb."""
        return self.con.sql(query, params=params or None).to_arrow_table()

    def stats(self) -> list[TableStats]:
        """Rows, date range and a content fingerprint for every table present."""
        out: list[TableStats] = []
        present = set(self.table_names())
        for name in [n for n in self.registry.load_order() if n in present]:
            spec = self.registry.tables[name]
            dates = [c.name for c in spec.columns if c.type in ("DATE", "TIMESTAMPTZ")]
            lo = " , ".join(f'min("{d}")::DATE' for d in dates) or "NULL"
            hi = " , ".join(f'max("{d}")::DATE' for d in dates) or "NULL"
            lows = f"least({lo})" if len(dates) > 1 else lo
            highs = f"greatest({hi})" if len(dates) > 1 else hi
            # Order-independent content hash: sum of 64-bit row hashes (as HUGEINT, no overflow).
            row = self.con.execute(
                f'SELECT count(*), {lows}, {highs}, coalesce(sum(hash(t)::HUGEINT), 0) FROM "{name}" t'
            ).fetchall()[0]
            assert row is not None
            out.append(TableStats(name, int(row[0]), row[1], row[2], format(int(row[3]) % (1 << 64), "016x")))
        return out

    def size_bytes(self) -> int:
        if self.path is None:
            return 0
        wal = self.path.with_name(self.path.name + ".wal")
        return self.path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)

    def export(self, out_dir: Path, fmt: ExportFormat) -> Iterator[tuple[str, Path]]:
        """Write every registry table to ``out_dir/<table>.<fmt>``, yielding each as it is done."""
        out_dir.mkdir(parents=True, exist_ok=True)
        present = set(self.table_names())
        for name in [n for n in self.registry.load_order() if n in present]:
            target = out_dir / f"{name}.{fmt}"
            options = "FORMAT parquet, COMPRESSION zstd" if fmt == "parquet" else "FORMAT csv, HEADER true"
            order = ", ".join(f'"{k}"' for k in self.registry.tables[name].primary_key)
            escaped = str(target).replace("'", "''")
            self.con.execute(f"COPY (SELECT * FROM \"{name}\" ORDER BY {order}) TO '{escaped}' ({options})")
            yield name, target

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> DuckDBEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
