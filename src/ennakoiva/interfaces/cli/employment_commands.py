"""``ennakoiva employment register|queue|decide``: Employment service 2.0 at the terminal.

``register`` reads the same JSON as ``POST /employment/registrations`` (a file, or ``-`` for stdin)
and prints the answer as JSON; the counsellor's ``queue`` and ``decide`` act as a counsellor and
are decided and logged under ``employment-service-recommendations`` like every other read.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from ennakoiva.domain.consent.decision import Actor
from ennakoiva.domain.employment import DecisionInput, parse_registration
from ennakoiva.interfaces.cli.errors import clean_errors
from ennakoiva.interfaces.cli.options import JsonOption, StoreOption, settings_for

__all__ = ["employment_app"]


def _service_for(*args: Any, **kwargs: Any) -> Any:
    """The employment service, imported on first use: it loads scikit-learn and the models (seconds)."""
    from ennakoiva.platform.employment_service import employment_service_for  # noqa: PLC0415 - fast CLI start

    return employment_service_for(*args, **kwargs)

console = Console()
employment_app = typer.Typer(help="Employment service 2.0: registrations, suggestions, the counsellor's queue.",
                             no_args_is_help=True)

ModelsOption = Annotated[Path | None, typer.Option("--models", help="Model registry folder "
                                                   "(default: ENNAKOIVA_EMPLOYMENT_MODELS).")]
CounsellorOption = Annotated[str, typer.Option("--counsellor", help="The counsellor's id (logged).")]


def _counsellor(counsellor_id: str) -> Actor:
    return Actor(id=counsellor_id, role="counsellor", service="employment-services")


def _read_json(source: str) -> object:
    text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{'stdin' if source == '-' else source}: not valid JSON ({exc})") from None


@employment_app.command()
@clean_errors
def register(
    json_in: Annotated[str, typer.Option("--json", help="Registration JSON file, or - for stdin.")],
    models: ModelsOption = None,
    store: StoreOption = None,
) -> None:
    """Register a job seeker and print the suggestions, probabilities and cluster as JSON."""
    registration = parse_registration(_read_json(json_in))
    with _service_for(settings_for(store), models, batch_wait_s=0.0) as service:
        result = service.register(registration)
    typer.echo(json.dumps(result.as_json(), indent=2, ensure_ascii=False))


@employment_app.command()
@clean_errors
def queue(
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="How many registrations.")] = 50,
    counsellor: CounsellorOption = "counsellor-cli",
    lang: Annotated[str, typer.Option("--lang", help="fi, sv or en.")] = "en",
    models: ModelsOption = None,
    store: StoreOption = None,
    json_out: JsonOption = False,
) -> None:
    """New registrations waiting for a counsellor, oldest first, with the prepared suggestions."""
    if lang not in ("fi", "sv", "en"):
        raise ValueError(f"--lang must be fi, sv or en, not {lang!r}")
    with _service_for(settings_for(store), models) as service:
        waiting = service.queue(_counsellor(counsellor), limit)
    if json_out:
        typer.echo(json.dumps([{"registration_id": w.registration_id, "person_id": w.person_id,
                                "created_at": w.created_at.isoformat(), "result": w.result.as_json()}
                               for w in waiting], indent=2, ensure_ascii=False))
        return
    table = Table(title=f"{len(waiting)} registrations waiting")
    for col in ("registration", "registered", "cluster", "top suggestion", "effect (95 %)", "P(job 6 mo)"):
        table.add_column(col)
    for w in waiting:
        top = w.result.suggestions[0] if w.result.suggestions else None
        table.add_row(w.registration_id, w.created_at.strftime("%Y-%m-%d %H:%M"), w.result.cluster.names[lang],  # type: ignore[index]
                      top.names[lang] if top else "-",  # type: ignore[index]
                      f"{top.effect * 100:+.0f} pp ({top.effect_low * 100:+.0f}…{top.effect_high * 100:+.0f})"
                      if top else "-", f"{w.result.p_without:.0%} → {w.result.p_with_top:.0%}")
    console.print(table)


@employment_app.command()
@clean_errors
def decide(
    registration_id: Annotated[str, typer.Argument(help="The registration's id.")],
    service: Annotated[str, typer.Option("--service", help="The chosen service, or none.")],
    reason: Annotated[str, typer.Option("--reason", help="Why, in the counsellor's words (kept as feedback).")],
    counsellor: CounsellorOption = "counsellor-cli",
    models: ModelsOption = None,
    store: StoreOption = None,
    json_out: JsonOption = False,
) -> None:
    """Record the counsellor's choice of service and the reason for it."""
    try:
        choice = DecisionInput(service=service, reason=reason)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ValueError(f"--{first['loc'][0]}: {str(first['msg']).removeprefix('Value error, ')}") from None
    with _service_for(settings_for(store), models) as svc:
        record = svc.decide(_counsellor(counsellor), registration_id, choice)
    if json_out:
        typer.echo(json.dumps(record.model_dump(mode="json"), indent=2, ensure_ascii=False))
        return
    followed = "followed the top suggestion" if record.followed_suggestion else \
        f"differs from the top suggestion ({record.top_suggestion})"
    console.print(f"decision {record.decision_id}: {record.service} — {followed}")
