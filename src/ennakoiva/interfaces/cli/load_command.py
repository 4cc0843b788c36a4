"""``ennakoiva load``: load a folder of the city's own CSV or Parquet files into the database.

Registered by the CLI app with ``app.command("load")(load)``. Exit status: 0 when the load is
acceptable, 1 when more rows were rejected than ``--max-rejected`` allows or a file was rejected
as a whole, 2 (with one line, no traceback) when the folder or database cannot be used at all.

``--format synthea`` imports a Synthea CSV export folder and ``--format fhir`` a FHIR R4 Bundle file
or a folder of them (``ennakoiva.adapters.importers``): the rows are converted, checked and counted
the same way, and rows left out by a documented rule (an observation the data model has no place
for) are shown as *excluded* and do not count against ``--max-rejected``.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ennakoiva.adapters.engine.duckdb_engine import DuckDBEngine
from ennakoiva.adapters.importers import DEFAULT_SALT, import_fhir, import_synthea
from ennakoiva.adapters.loading import LoadError, LoadReport, StagedLoadReport, load_folder

__all__ = ["LoadFormat", "load", "report_table"]

LoadFormat = Literal["csv", "parquet", "synthea", "fhir"]


def report_table(report: LoadReport) -> Table:
    """The accounting as a Rich table: per file read = loaded + rejected, with totals."""
    staged = isinstance(report, StagedLoadReport)
    table = Table(title=f"Loaded {report.source_dir}", show_footer=True)
    table.add_column("file", footer="total", no_wrap=True)
    table.add_column("table", no_wrap=True)
    totals = [("read", report.read), ("loaded", report.loaded), ("replaced", report.replaced),
              ("rejected", report.rejected)]
    if staged:
        totals.append(("of which excluded", getattr(report, "excluded", 0)))
    for name, total in [*totals, ("problems", report.problems)]:
        table.add_column(name, justify="right", footer=f"{total:,}")
    table.add_column("note")
    for f in report.files:
        note = f"[red]{f.error}[/]" if f.error else "; ".join(f.warnings)
        excluded = [f"{getattr(f, 'excluded', 0):,}"] if staged else []
        table.add_row(f.file, f.table, f"{f.read:,}", f"{f.loaded:,}", f"{f.replaced:,}",
                      f"{f.rejected:,}", *excluded, f"{f.problems:,}", note)
    return table


def load(
    db: Annotated[Path, typer.Option("--db", help="DuckDB file of the city (created if missing).")],
    source: Annotated[Path, typer.Argument(help="Folder with one file per table: person.csv, income.parquet, …; "
                                                "with --format synthea a Synthea CSV export folder, with --format "
                                                "fhir a FHIR Bundle .json file or a folder of them.")],
    format: Annotated[LoadFormat | None, typer.Option(
        "--format", help="csv or parquet: load only those files (default: by file extension); synthea or fhir: "
                         "import a Synthea CSV export or FHIR R4 Bundles.")] = None,
    rejects: Annotated[Path | None, typer.Option(
        "--rejects", help="Where to write rejected rows (default: SOURCE/rejects.csv).")] = None,
    encoding: Annotated[str | None, typer.Option(
        "--encoding", help="Text encoding of the CSV files (default: detected, e.g. utf-8 or cp1252).")] = None,
    max_rejected: Annotated[float, typer.Option(
        "--max-rejected", min=0.0, max=1.0, help="Largest acceptable share of rejected rows.")] = 0.01,
    json_out: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="synthea/fhir: extract date YYYY-MM-DD; ongoing medications end on it "
                        "(default: the latest date in the source).")] = None,
    id_salt: Annotated[str, typer.Option(
        "--id-salt", envvar="ENNAKOIVA_ID_SALT", show_default=False,
        help="synthea/fhir: secret salt of the pseudonymous ids derived from source ids (default: a fixed "
             "public salt, fine for synthetic data).")] = DEFAULT_SALT,
) -> None:
    """Validate every row against the registry and load the good ones; rejects go to a CSV file."""
    err = Console(stderr=True)
    try:
        extract = date.fromisoformat(as_of) if as_of is not None else None
    except ValueError:
        raise ValueError(f"--as-of must be a date YYYY-MM-DD, not {as_of!r}") from None
    try:
        report = _run(db, source, format, rejects, encoding, max_rejected, show_progress=not json_out,
                      console=err, as_of=extract, salt=id_salt)
    except (LoadError, FileNotFoundError) as exc:
        err.print(f"[bold red]error:[/] {str(exc).splitlines()[0]}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    if json_out:
        typer.echo(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
    else:
        out = Console()
        out.print(report_table(report))
        for skipped in report.skipped:
            out.print(f"skipped {skipped}", highlight=False)
        if isinstance(report, StagedLoadReport):
            for note in report.notes:
                out.print(f"note: {note}", highlight=False, soft_wrap=True)
            out.print(f"rejected {report.rejected - report.excluded:,} of {report.read - report.excluded:,} rows "
                      f"in scope ({report.rejected_share:.2%}); {report.excluded:,} rows outside the data model "
                      f"not imported; problems → {report.rejects_path}", highlight=False, soft_wrap=True)
        else:
            out.print(f"rejected {report.rejected:,} of {report.read:,} rows ({report.rejected_share:.2%}); "
                      f"problems → {report.rejects_path}", highlight=False)
    if not report.ok:
        failed = ", ".join(f.file for f in report.failed_files)
        why = (f"file(s) rejected as a whole: {failed}" if failed else
               f"rejected share {report.rejected_share:.2%} exceeds --max-rejected {max_rejected:.2%}")
        err.print(f"[bold red]load not accepted:[/] {why}", highlight=False, soft_wrap=True)
        raise typer.Exit(1)


def _run(db: Path, source: Path, fmt: LoadFormat | None, rejects: Path | None, encoding: str | None,
         max_rejected: float, *, show_progress: bool, console: Console, as_of: date | None = None,
         salt: str = DEFAULT_SALT) -> LoadReport:
    if not source.exists():  # before the database file is created for nothing
        raise FileNotFoundError(f"no such {'file or folder' if fmt == 'fhir' else 'folder'}: {source}")
    if not db.parent.exists():
        raise FileNotFoundError(f"no such folder for the database: {db.parent}")
    engine = DuckDBEngine(db)
    try:
        engine.create_tables(replace=False)
        with Progress(TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn(),
                      TimeElapsedColumn(), console=console, transient=True,
                      disable=not (show_progress and console.is_terminal)) as bar:
            task = bar.add_task("loading", total=None)

            def progress(message: str, done: int, total: int) -> None:
                bar.update(task, description=message, completed=done, total=total)

            if fmt == "synthea":
                return import_synthea(engine, source, rejects_path=rejects, encoding=encoding,
                                      max_reject_share=max_rejected, as_of=as_of, salt=salt, progress=progress)
            if fmt == "fhir":
                return import_fhir(engine, source, rejects_path=rejects, encoding=encoding,
                                   max_reject_share=max_rejected, as_of=as_of, salt=salt, progress=progress)
            return load_folder(engine, source, fmt=fmt, rejects_path=rejects, encoding=encoding,
                               max_reject_share=max_rejected, progress=progress)
    finally:
        engine.close()
