"""``ennakoiva consent|audit|mydata``: consents, the audit chain and the resident's own data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ennakoiva.adapters.engine import DuckDBEngine
from ennakoiva.domain.clock import now
from ennakoiva.domain.consent.records import Party, validate_subject_id
from ennakoiva.interfaces.cli.errors import clean_errors
from ennakoiva.interfaces.cli.options import JsonOption, StoreOption, settings_for
from ennakoiva.platform.mydata import resident_view
from ennakoiva.platform.operational import open_operational

__all__ = ["audit_app", "consent_app", "mydata_app"]

console = Console()
consent_app = typer.Typer(help="Give, withdraw and list consents (server time; every change is kept).",
                          no_args_is_help=True)
audit_app = typer.Typer(help="Verify and read the tamper-evident audit log.", no_args_is_help=True)
mydata_app = typer.Typer(help="A resident's own view and export (GDPR Art. 15 and 20).", no_args_is_help=True)

ROLES = ("self", "guardian", "mandate", "caseworker")


def _party(person: int, role: str, auth: str, channel: str) -> Party:
    if role not in ROLES:
        raise ValueError(f"--role must be one of {', '.join(ROLES)}, not {role!r}")
    return Party.model_validate({"person_id": person, "role": role, "auth_method": auth, "channel": channel})


def _show(view: dict[str, Any], json_out: bool) -> None:
    if json_out:
        typer.echo(json.dumps(view, indent=2, ensure_ascii=False))
    else:
        _print_view(view)


def _print_view(view: dict[str, Any]) -> None:
    table = Table(title=f"consent {view['record_id']}")
    table.add_column("seq", justify="right")
    for col in ("state", "at", "by", "role", "auth"):
        table.add_column(col)
    for h in view["history"]:
        table.add_row(str(h["seq"]), h["state"], h["at"], str(h["by"]), h["role"], h["auth"])
    console.print(table)
    waiting = f" — waiting for {', '.join(map(str, view['waiting_for']))}" if view["waiting_for"] else ""
    console.print(f"[bold]{view['purpose_id']}[/]: {view['state']} ({view['reason']}){waiting}; "
                  f"valid until {view['valid_until'] or '—'}")


@consent_app.command("give")
@clean_errors
def give(purpose: Annotated[str, typer.Option("--purpose", help="Purpose id from the catalogue.")],
         subject: Annotated[str, typer.Option("--subject", help="Pseudonymous person_id the consent is about.")],
         by: Annotated[int, typer.Option("--by", help="person_id of whoever gives the consent.")],
         role: Annotated[str, typer.Option("--role", help="self, guardian, mandate or caseworker.")] = "self",
         guardians: Annotated[str | None, typer.Option("--guardians", help="All required parties, e.g. 11,12.")] = None,
         lang: Annotated[str, typer.Option("--lang", help="Language of the notice shown: fi, sv or en.")] = "fi",
         auth: Annotated[str, typer.Option("--auth", help="How the party was authenticated.")] = "suomi.fi-strong",
         channel: Annotated[str, typer.Option("--channel", help="web, sms, caseworker or paper.")] = "web",
         categories: Annotated[str | None, typer.Option("--categories", help="Subset of the purpose's categories.")]
         = None,
         covers: Annotated[str | None, typer.Option(
             "--covers", help="Household members whose data the consent also covers, e.g. the guardians' "
                              "incomes for a daycare fee: 11,12.")] = None,
         store: StoreOption = None, json_out: JsonOption = False) -> None:
    """Give consent (or add the second guardian's consent to a pending one)."""
    if lang not in ("fi", "sv", "en"):
        raise ValueError(f"--lang must be fi, sv or en, not {lang!r}")
    parties = tuple(int(p) for p in guardians.split(",")) if guardians else None
    cats = tuple(c.strip() for c in categories.split(",")) if categories else None
    covered = tuple(int(p) for p in covers.split(",")) if covers else ()
    with open_operational(settings_for(store)) as op:
        view = op.consents.give(purpose, subject, _party(by, role, auth, channel), language=lang,  # type: ignore[arg-type]
                                required_parties=parties, covered_subjects=covered, categories=cats)
        data = view.as_dict(op.purposes)
    _show(data, json_out)


@consent_app.command("withdraw")
@clean_errors
def withdraw(record_id: Annotated[str, typer.Argument(help="The consent record id.")],
             by: Annotated[int, typer.Option("--by", help="person_id of whoever withdraws.")],
             role: Annotated[str, typer.Option("--role")] = "self",
             auth: Annotated[str, typer.Option("--auth")] = "suomi.fi-strong",
             channel: Annotated[str, typer.Option("--channel")] = "web",
             store: StoreOption = None, json_out: JsonOption = False) -> None:
    """Withdraw a consent: final, for every party; data already used lawfully stays lawful."""
    with open_operational(settings_for(store)) as op:
        data = op.consents.withdraw(record_id, _party(by, role, auth, channel)).as_dict(op.purposes)
    _show(data, json_out)


@consent_app.command("list")
@clean_errors
def list_consents(subject: Annotated[str, typer.Option("--subject", help="Pseudonymous person_id.")],
                  purpose: Annotated[str | None, typer.Option("--purpose")] = None,
                  involving: Annotated[bool, typer.Option(
                      "--involving", help="Also consents the person gave for others or that cover their data.")]
                  = False,
                  store: StoreOption = None, json_out: JsonOption = False) -> None:
    """A subject's consents with their whole history."""
    with open_operational(settings_for(store)) as op:
        found = op.consents.views_of_person(subject) if involving else op.consents.views(subject, purpose)
        views = [v.as_dict(op.purposes) for v in found if purpose is None or v.record.purpose_id == purpose]
    if json_out:
        typer.echo(json.dumps(views, indent=2, ensure_ascii=False))
        return
    if not views:
        console.print(f"no consents for {subject}")
    for view in views:
        _print_view(view)


@consent_app.command("receipt")
@clean_errors
def receipt(record_id: Annotated[str, typer.Argument(help="The consent record id.")],
            store: StoreOption = None) -> None:
    """The consent receipt (Kantara v1.1 / ISO/IEC TS 27560 fields) as JSON."""
    with open_operational(settings_for(store)) as op:
        typer.echo(json.dumps(op.consents.receipt(record_id), indent=2, ensure_ascii=False))


@audit_app.command("verify")
@clean_errors
def verify(store: StoreOption = None, json_out: JsonOption = False) -> None:
    """Check the whole chain and the signed checkpoints; exit 1 naming the first bad entry."""
    with open_operational(settings_for(store)) as op:
        report = op.verify_audit()
    if json_out:
        typer.echo(report.model_dump_json(indent=2))
    elif report.ok:
        console.print(f"[green]audit log intact[/]: {report.entries:,} entries")
    else:
        console.print(f"[bold red]audit log broken at entry {report.first_bad_seq}[/]: {report.problem}")
    if not report.ok:
        raise typer.Exit(1)


@audit_app.command("checkpoint")
@clean_errors
def checkpoint(store: StoreOption = None) -> None:
    """Sign a checkpoint of the chain's head now (kept in the database and the external file)."""
    with open_operational(settings_for(store)) as op:
        cp = op.audit.checkpoint(now())
    console.print(f"checkpoint at entry {cp.seq}: {cp.entry_hash[:16]}…")


@audit_app.command("show")
@clean_errors
def show(subject: Annotated[str, typer.Option("--subject", help="Whose uses to show (person_id).")],
         store: StoreOption = None, json_out: JsonOption = False) -> None:
    """Every logged decision about one subject (ids and categories only, never values)."""
    with open_operational(settings_for(store)) as op:
        entries = op.audit.for_subject(validate_subject_id(subject))
    if json_out:
        typer.echo(json.dumps([e.model_dump(mode="json") for e in entries], indent=2))
        return
    table = Table(title=f"uses of the data of {subject}")
    for col in ("seq", "at", "role", "service", "purpose", "categories", "outcome", "reason"):
        table.add_column(col)
    for e in entries:
        table.add_row(str(e.seq), e.at.isoformat(timespec="seconds"), e.role, e.service, e.purpose_id,
                      ",".join(e.categories), e.decision, e.reason)
    console.print(table)


@mydata_app.command("export")
@clean_errors
def export(subject: Annotated[str, typer.Option("--subject", help="The resident's person_id.")],
           db: Annotated[Path | None, typer.Option("--db", help="City database (adds the copy of the data).")]
           = None,
           out: Annotated[Path | None, typer.Option("--out", help="Write the JSON here instead of stdout.")] = None,
           store: StoreOption = None) -> None:
    """The resident's export: consents, data held, every use, rights — and a copy of the data."""
    with open_operational(settings_for(store)) as op:
        engine = DuckDBEngine(db, read_only=True) if db else None
        try:
            view = resident_view(subject, op.gate, op.consents, engine, op.purposes, include_data=engine is not None)
        finally:
            if engine is not None:
                engine.close()
    text = json.dumps(view, indent=2, ensure_ascii=False)
    if out:
        out.write_text(text + "\n", encoding="utf-8")
        console.print(f"export of {subject} → {out}")
    else:
        typer.echo(text)
