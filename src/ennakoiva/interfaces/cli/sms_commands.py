"""``ennakoiva sms interpret|encode``: how a reply would be read and what a text costs; changes nothing."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console

from ennakoiva.domain.messaging.sms import analyse
from ennakoiva.domain.services import load_service
from ennakoiva.interfaces.cli.errors import clean_errors
from ennakoiva.interfaces.cli.options import JsonOption

__all__ = ["sms_app"]

console = Console()
sms_app = typer.Typer(help="SMS replies and encodings: read a reply as a service would, count a text's parts.",
                      no_args_is_help=True)


@sms_app.command()
@clean_errors
def interpret(
    text: Annotated[str, typer.Argument(help="The reply text, as the resident sent it.")],
    service: Annotated[str, typer.Option("--service", help="Service id, e.g. preschool-offer.")],
    json_out: JsonOption = False,
) -> None:
    """Show how a reply to SERVICE would be read (A, B, C, D or unclear); nothing is stored or sent."""
    definition = load_service(service)
    read = definition.interpret(text)
    option = definition.option(read.choice) if read.choice else None
    out: dict[str, Any] = {
        "service": definition.id, "choice": read.choice, "reason": read.reason, "opt_out": read.opt_out,
        "action": option.action.value if option else None,
        "language": option.language if option else None,
        "meaning": dict(option.meaning) if option else None,
    }
    if json_out:
        typer.echo(json.dumps(out, ensure_ascii=False, indent=2))
        return
    if option is None:
        what = "an opt-out from SMS (STOP)" if read.opt_out else "unclear: one clarifying message would be sent"
        console.print(f"[bold]no choice[/] ({read.reason}) — {what}")
        return
    console.print(f"[bold]{read.choice}[/] = {option.action.value} — fi: {option.meaning['fi']} · "
                  f"sv: {option.meaning['sv']} · en: {option.meaning['en']}")


@sms_app.command()
@clean_errors
def encode(
    text: Annotated[str, typer.Argument(help="Message text.")],
    json_out: JsonOption = False,
) -> None:
    """GSM-7 or UCS-2, length in septets / UTF-16 units and the number of SMS parts."""
    info = analyse(text)
    out = {"encoding": info.encoding, "characters": info.characters, "units": info.units,
           "segments": info.segments, "non_gsm7": list(info.non_gsm7)}
    if json_out:
        typer.echo(json.dumps(out, ensure_ascii=False, indent=2))
        return
    unit = "septets" if info.encoding == "GSM-7" else "UTF-16 units"
    extra = f"; forced by {' '.join(repr(c) for c in info.non_gsm7)}" if info.non_gsm7 else ""
    console.print(f"{info.encoding}: {info.units} {unit}, {info.segments} part(s){extra}", highlight=False)
