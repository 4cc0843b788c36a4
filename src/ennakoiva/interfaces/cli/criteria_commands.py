"""``ennakoiva criteria validate|run|explain``: check criterion files, evaluate them over a city, explain one person."""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from ennakoiva.adapters.engine import DuckDBEngine
from ennakoiva.adapters.engine.criteria_fixtures import run_fixtures
from ennakoiva.adapters.engine.criteria_outreach import district_counts, outreach_lists
from ennakoiva.adapters.engine.criteria_sql import evaluate_criteria, write_result
from ennakoiva.domain.clock import today
from ennakoiva.domain.consent.decision import Actor
from ennakoiva.domain.criteria import CRITERIA_DIR, load_criteria
from ennakoiva.domain.criteria.evidence import evidence_lines
from ennakoiva.domain.types import LANGS
from ennakoiva.interfaces.cli.errors import clean_errors
from ennakoiva.interfaces.cli.options import JsonOption, StoreOption, settings_for
from ennakoiva.platform.operational import open_operational

__all__ = ["criteria_app"]

console = Console()
criteria_app = typer.Typer(help="Care-gap criteria: validate the files, run them all over a city.",
                           no_args_is_help=True)


PURPOSE = "care-gap-identification"
ActorOption = Annotated[str, typer.Option("--actor", help="Who runs it (logged in the audit log).")]
RoleOption = Annotated[str, typer.Option("--role", help="The actor's role in the service.")]
ServiceOption = Annotated[str, typer.Option("--service", help="The service the actor works in.")]


def _authorise(actor: str, role: str, service: str, store: str | None, person: int | None) -> None:
    """Decide and log the read; refuse with the decision's reason."""
    with open_operational(settings_for(store)) as ops:
        decision = ops.gate.decide(Actor(id=actor, role=role, service=service), PURPOSE, person,
                                   ("population", "health"))
    if not decision.permit:
        raise PermissionError(f"access denied under {PURPOSE}: {decision.reason}")


def _date(on: str | None) -> date:
    try:
        return date.fromisoformat(on) if on else today()
    except ValueError as exc:
        raise ValueError(f"--on must be a date YYYY-MM-DD, not {on!r} ({exc})") from None


@criteria_app.command()
@clean_errors
def validate(
    directory: Annotated[Path, typer.Argument(help="Folder of criterion YAML files.")] = CRITERIA_DIR,
    fixtures: Annotated[bool, typer.Option("--fixtures/--no-fixtures",
                                           help="Also run each criterion's tests: cases.")] = True,
    json_out: JsonOption = False,
) -> None:
    """Validate and compile every criterion file, then run its fixtures; the first error names file, line and key.

    Exits 1 when a fixture fails (each failure named by criterion and case).
    """
    loaded = load_criteria(directory)
    ids = [c.compiled.id for c in loaded]
    outcomes = run_fixtures(loaded) if fixtures else []
    failed = [o for o in outcomes if not o.passed]
    if json_out:
        typer.echo(json.dumps({"valid": ids, "fixtures": len(outcomes),
                               "failed": [o.describe() for o in failed]}, indent=2))
    else:
        console.print(f"{len(ids)} criteria valid: {', '.join(ids)}")
        if fixtures:
            console.print(f"{len(outcomes) - len(failed)} of {len(outcomes)} fixture cases pass")
        for o in failed:
            console.print(f"[red]FAIL[/] {o.describe()}", highlight=False)
    if failed:
        raise typer.Exit(1)


@criteria_app.command()
@clean_errors
def run(
    db: Annotated[Path, typer.Option("--db", help="DuckDB file of the city.")],
    out: Annotated[Path, typer.Option("--out", help="Result file: .parquet, else CSV.")],
    criteria: Annotated[Path, typer.Option("--criteria", help="Folder of criterion files.")] = CRITERIA_DIR,
    on: Annotated[str | None, typer.Option("--on", help="Evaluation date YYYY-MM-DD (default: today).")] = None,
    lists: Annotated[Path | None, typer.Option(
        "--lists", help="Also write outreach.csv (ranked per health station) and district_counts.csv here.")] = None,
    actor: ActorOption = "care-gap-run",
    role: RoleOption = "care-gap-analyst",
    service: ServiceOption = "health-services",
    store: StoreOption = None,
    json_out: JsonOption = False,
) -> None:
    """Evaluate every criterion for everyone on one date; one row per matched person and criterion.

    The run is one population-level read under the purpose care-gap-identification: it is decided
    (the actor's role must be among the purpose's data users) and logged before any data is read.
    """
    on_date = _date(on)
    compiled = [c.compiled for c in load_criteria(criteria) if c.spec.status == "active"]  # drafts validate only
    _authorise(actor, role, service, store, None)
    started = time.perf_counter()
    with DuckDBEngine(db, read_only=True) as engine:
        with console.status(f"Evaluating {len(compiled)} criteria …"):
            result = evaluate_criteria(engine, compiled, on_date)
        seconds = time.perf_counter() - started
        stations: dict[str, int] = {}
        if lists is not None:
            outreach = outreach_lists(engine, result, on_date, compiled)
            write_result(outreach, lists / "outreach.csv")
            write_result(district_counts(engine, result), lists / "district_counts.csv")
            stations = dict(Counter(str(u) for u in outreach["unit_name"].to_pylist()))
    write_result(result, out)
    counts = Counter(result["criterion_id"].to_pylist())
    matched = {c.id: counts.get(c.id, 0) for c in compiled}
    if json_out:
        summary: dict[str, object] = {"on": on_date.isoformat(), "out": str(out), "seconds": round(seconds, 3),
                                      "matched": matched}
        if lists is not None:
            summary["lists"] = {"dir": str(lists), "persons_by_station": stations}
        typer.echo(json.dumps(summary, indent=2))
        return
    table = Table(title=f"Care gaps on {on_date}")
    table.add_column("criterion")
    table.add_column("persons", justify="right")
    for cid, n in matched.items():
        table.add_row(cid, f"{n:,}")
    console.print(table)
    console.print(f"{result.num_rows:,} rows in {seconds:.2f} s → {out}")
    if lists is not None:
        console.print(f"outreach lists for {len(stations)} health stations → {lists}")


@criteria_app.command()
@clean_errors
def explain(
    db: Annotated[Path, typer.Option("--db", help="DuckDB file of the city.")],
    person: Annotated[int, typer.Option("--person", help="Person id.")],
    criteria: Annotated[Path, typer.Option("--criteria", help="Folder of criterion files.")] = CRITERIA_DIR,
    on: Annotated[str | None, typer.Option("--on", help="Evaluation date YYYY-MM-DD (default: today).")] = None,
    lang: Annotated[str, typer.Option("--lang", help="Language of the texts: fi, sv or en.")] = "en",
    actor: ActorOption = "care-gap-explain",
    role: RoleOption = "nurse",
    service: ServiceOption = "health-services",
    store: StoreOption = None,
    json_out: JsonOption = False,
) -> None:
    """Which criteria one person matches on a date, with points and the evidence behind each.

    Reading one patient's data is decided and logged under care-gap-identification first.
    """
    if lang not in LANGS:
        raise ValueError(f"--lang must be one of {', '.join(LANGS)}, not {lang!r}")
    on_date = _date(on)
    _authorise(actor, role, service, store, person)
    loaded = {c.compiled.id: c for c in load_criteria(criteria) if c.spec.status == "active"}
    with DuckDBEngine(db, read_only=True) as engine:
        rows = evaluate_criteria(engine, [c.compiled for c in loaded.values()], on_date, person_id=person).to_pylist()
    for row in rows:
        spec = loaded[row["criterion_id"]].spec
        row["evidence"] = json.loads(row["evidence"])
        row["explanation"] = evidence_lines(loaded[row["criterion_id"]].compiled, row["evidence"], lang)
        row["extra_actions"] = list(spec.action.extra)
        row["name"] = spec.names.professional[lang]  # type: ignore[index]  # lang checked above
        row["rationale"] = spec.rationale.professional[lang]  # type: ignore[index]
    if json_out:
        typer.echo(json.dumps({"person_id": person, "on": on_date.isoformat(), "matched": rows}, indent=2,
                              default=str))
        return
    if not rows:
        console.print(f"person {person}: no criterion matched on {on_date}")
        return
    for row in rows:
        console.print(f"[bold]{row['criterion_id']}[/] ({row['tier']}, {row['points']} points, "
                      f"{' + '.join([row['action'], *row['extra_actions']])} at {row['unit_type']}): {row['name']}")
        console.print(f"  {row['rationale']}")
        for line in row["explanation"]:
            console.print(f"  {line}", highlight=False)
