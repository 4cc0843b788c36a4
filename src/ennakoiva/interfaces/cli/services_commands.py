"""``ennakoiva services validate|list|preview``: check the proactive-service definitions and show them."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ennakoiva.domain.services import SERVICES_DIR, ServiceDefinition, load_service, load_services
from ennakoiva.domain.services.scenarios import load_scenarios
from ennakoiva.domain.types import LANGS
from ennakoiva.domain.yaml_source import CatalogueError
from ennakoiva.interfaces.cli.errors import clean_errors
from ennakoiva.interfaces.cli.options import JsonOption

__all__ = ["services_app"]

console = Console()
services_app = typer.Typer(help="Proactive-service definitions: validate the files, list them, preview texts.",
                           no_args_is_help=True)

DirArgument = Annotated[Path, typer.Argument(help="Folder of service YAML files.")]
DirOption = Annotated[Path, typer.Option("--dir", help="Folder of service YAML files.")]


def _summary(s: ServiceDefinition) -> dict[str, Any]:
    return {
        "id": s.id, "version": s.version, "names": dict(s.names), "purpose": s.purpose,
        "trigger": s.trigger.kind, "subject": s.trigger.subject, "recipients": s.recipients.who,
        "consent_needed": s.justifications.data_and_right.consent_needed,
        "deadline_days": s.deadline.days_after_delivery, "reminders": len(s.reminders),
        "reply_options": {code: o.action.value + (f":{o.language}" if o.language else "")
                          for code, o in s.reply_options.items()},
    }


@services_app.command()
@clean_errors
def validate(directory: DirArgument = SERVICES_DIR, json_out: JsonOption = False) -> None:
    """Validate every definition: five justifications, purpose, templates (GSM-7, parts); errors name file:line.

    Scenario files in ``DIR/scenarios`` are checked too, and must name a service of ``DIR``.
    """
    ids = [s.id for s in load_services(directory)]
    scenarios: list[str] = []
    if (directory / "scenarios").is_dir():
        for path, scenario in load_scenarios(directory / "scenarios"):
            if scenario.service not in ids:
                raise CatalogueError(f"{path}: scenario for unknown service '{scenario.service}' (known: {ids})")
            scenarios.append(path.stem)
    if json_out:
        typer.echo(json.dumps({"valid": ids, "scenarios": scenarios}, indent=2))
        return
    console.print(f"{len(ids)} services valid: {', '.join(ids)}; {len(scenarios)} scenarios")


@services_app.command("list")
@clean_errors
def list_services(directory: DirOption = SERVICES_DIR, json_out: JsonOption = False) -> None:
    """The services in the catalogue: purpose, trigger, recipients, consent and reply options."""
    rows = [_summary(s) for s in load_services(directory)]
    if json_out:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    table = Table(title="Proactive services")
    for col in ("id", "name", "purpose", "trigger", "recipients", "consent", "replies"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["id"], r["names"]["en"], r["purpose"], r["trigger"], r["recipients"],
                      "yes" if r["consent_needed"] else "no",
                      " ".join(f"{c}={a}" for c, a in r["reply_options"].items()))
    console.print(table)


@services_app.command()
@clean_errors
def preview(service: Annotated[str, typer.Argument(help="Service id.")],
            directory: DirOption = SERVICES_DIR,
            json_out: JsonOption = False) -> None:
    """Every template of SERVICE in fi/sv/en with the longest field values: encoding and SMS parts."""
    s = load_service(service, directory)
    values: dict[str, Any] = {name: date(2027, 12, 30) if spec.type == "date" else "X" * (spec.max_length or 1)
                              for name, spec in s.fields.items()}
    rows = []
    for kind in s.templates:
        for lang in LANGS:
            msg = s.render(kind, lang, **values)
            rows.append({"kind": kind.value, "lang": lang, "encoding": msg.encoding, "segments": msg.segments,
                         "characters": len(msg.text), "text": msg.text})
    if json_out:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    table = Table(title=f"{s.id}: templates with the longest field values (max {s.channel.max_segments} parts)")
    for col in ("kind", "lang", "encoding", "parts", "chars", "text"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["kind"], r["lang"], r["encoding"], str(r["segments"]), str(r["characters"]), r["text"])
    console.print(table)
