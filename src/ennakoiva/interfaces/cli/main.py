"""``ennakoiva``: synthesise, load, describe and export the resident data layer."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ennakoiva.adapters.synth.city import DEFAULT_AS_OF
from ennakoiva.interfaces.cli.analyze_commands import analyze_app
from ennakoiva.interfaces.cli.campaign_commands import campaign_app, show_campaign_story
from ennakoiva.interfaces.cli.consent_commands import audit_app, consent_app, mydata_app
from ennakoiva.interfaces.cli.criteria_commands import criteria_app
from ennakoiva.interfaces.cli.employment_commands import employment_app
from ennakoiva.interfaces.cli.errors import clean_errors
from ennakoiva.interfaces.cli.fee_commands import fee_app
from ennakoiva.interfaces.cli.load_command import load
from ennakoiva.interfaces.cli.model_commands import model_app
from ennakoiva.interfaces.cli.report_commands import drilldown_command, map_command, opendata_app, report_command
from ennakoiva.interfaces.cli.serve_commands import serve, serve_demo
from ennakoiva.interfaces.cli.services_commands import services_app
from ennakoiva.interfaces.cli.sms_commands import sms_app
from ennakoiva.platform.demo_consent import consent_story
from ennakoiva.platform.inspection import database_info, export_database
from ennakoiva.platform.settings import Settings
from ennakoiva.platform.summary import city_summary
from ennakoiva.platform.synthesis import synthesise_city

__all__ = ["app", "run"]

app = typer.Typer(help="Ennakoiva: anticipate residents' service needs on their own terms.",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
console = Console()

DbOption = Annotated[Path, typer.Option("--db", help="DuckDB file of the city (the resident data layer).")]


def _progress() -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console, transient=False, disable=not console.is_terminal)


@app.command()
@clean_errors
def synth(
    residents: Annotated[int, typer.Option("--residents", "-n", min=100, help="Current residents.")] = 100_000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed: the same seed gives identical tables.")] = 1,
    db: Annotated[Path, typer.Option("--db", help="DuckDB file to create (replaced).")] = Path("ennakoiva.duckdb"),
    truth: Annotated[Path, typer.Option("--truth", help="Separate file for the planted ground truth.")] = Path(
        "ennakoiva-truth.duckdb"),
    as_of: Annotated[str, typer.Option("--as-of", help="Extract date (YYYY-MM-DD).")] = DEFAULT_AS_OF.isoformat(),
    json_out: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Synthesise a Helsinki-like city with planted ground truth."""
    settings = Settings()
    try:
        extract_date = date.fromisoformat(as_of)
    except ValueError as exc:
        raise ValueError(f"--as-of must be a date YYYY-MM-DD, not {as_of!r} ({exc})") from None
    with _progress() as bar:
        task = bar.add_task("residents", total=residents)
        result = synthesise_city(db, truth, residents=residents, seed=seed, as_of=extract_date,
                                 progress=lambda k: bar.advance(task, k), threads=settings.threads,
                                 memory_limit=settings.memory_limit)
    summary = {"database": str(db), "truth": str(truth), "residents": residents, "seed": seed,
               "as_of": result.as_of.isoformat(), "rows": result.rows, "total_rows": result.events,
               "truth_rows": result.truth_rows, "seconds": round(result.seconds, 2),
               "rows_per_second": round(result.events / max(result.seconds, 1e-9))}
    if json_out:
        typer.echo(json.dumps(summary, indent=2))
        return
    table = Table(title=f"Synthetic city: {residents:,} residents, seed {seed}, as of {result.as_of}")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, rows in result.rows.items():
        table.add_row(name, f"{rows:,}")
    console.print(table)
    console.print(f"{result.events:,} rows in {result.seconds:.1f} s "
                  f"({summary['rows_per_second']:,} rows/s) → {db}; ground truth → {truth}")


@app.command()
@clean_errors
def info(db: DbOption = Path("ennakoiva.duckdb"),
         json_out: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False) -> None:
    """Tables, row counts, date ranges and size on disk."""
    data = database_info(db)
    if json_out:
        typer.echo(json.dumps(data, indent=2))
        return
    table = Table(title=f"{db} — {data['size_bytes'] / 1e6:,.1f} MB, {data['total_rows']:,} rows")
    for col, justify in (("table", "left"), ("rows", "right"), ("from", "left"), ("to", "left"),
                         ("fingerprint", "left")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for t in data["tables"]:
        table.add_row(t["name"], f"{t['rows']:,}", t["first_date"] or "", t["last_date"] or "", t["fingerprint"])
    console.print(table)


@app.command()
@clean_errors
def export(db: DbOption = Path("ennakoiva.duckdb"),
           out: Annotated[Path, typer.Option("--out", help="Folder to write one file per table.")] = Path("export"),
           fmt: Annotated[str, typer.Option("--format", help="parquet or csv.")] = "parquet") -> None:
    """Export every table as Parquet or CSV (one file per table, ordered by primary key)."""
    if fmt not in ("parquet", "csv"):
        raise ValueError(f"--format must be parquet or csv, not {fmt!r}")
    with _progress() as bar:
        task = bar.add_task("tables", total=None)
        for name, path in export_database(db, out, fmt):  # type: ignore[arg-type]
            bar.advance(task)
            console.print(f"{name} → {path}")


@app.command()
@clean_errors
def demo(residents: Annotated[int, typer.Option("--residents", "-n", min=100)] = 100_000,
         seed: Annotated[int, typer.Option("--seed")] = 1,
         no_serve: Annotated[bool, typer.Option("--no-serve", help="Stop after the summary (tests, CI).")] = False,
         port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 8000) -> None:
    """Synthesise the default city into ./demo and show what it holds."""
    settings = Settings()
    db, truth = settings.demo_dir / "city.duckdb", settings.demo_dir / "truth.duckdb"
    console.rule("[bold]Ennakoiva demo: a synthetic Helsinki")
    synth(residents=residents, seed=seed, db=db, truth=truth, as_of=DEFAULT_AS_OF.isoformat(), json_out=False)
    info(db=db, json_out=False)
    facts = Table(title="What the city holds", show_header=False)
    facts.add_column("fact")
    facts.add_column("value", justify="right")
    for label, value in city_summary(db):
        facts.add_row(label, value)
    console.print(facts)
    console.print(f"Ground truth (planted effects and gaps) is in {truth}; analysis code never reads it.")
    story = Table(title="Consent on the residents' terms (daycare-fee income check)", show_header=False)
    story.add_column("step")
    story.add_column("outcome")
    for step, outcome in consent_story(db, settings.demo_dir):
        story.add_row(step, outcome)
    console.print(story)
    show_campaign_story(db, settings.demo_dir, DEFAULT_AS_OF, settings)
    if not no_serve:
        serve_demo(settings, db, port)


app.command("load")(clean_errors(load))
app.command("serve")(serve)
app.add_typer(consent_app, name="consent")
app.add_typer(audit_app, name="audit")
app.add_typer(mydata_app, name="mydata")
app.add_typer(criteria_app, name="criteria")
app.add_typer(employment_app, name="employment")
app.add_typer(model_app, name="model")
app.add_typer(analyze_app, name="analyze")
app.command("report")(report_command)
app.command("drilldown")(drilldown_command)
app.command("map")(map_command)
app.add_typer(opendata_app, name="opendata")
app.add_typer(services_app, name="services")
app.add_typer(sms_app, name="sms")
app.add_typer(fee_app, name="fee")
app.add_typer(campaign_app, name="campaign")


def run() -> None:
    """Console-script entry point."""
    app()
