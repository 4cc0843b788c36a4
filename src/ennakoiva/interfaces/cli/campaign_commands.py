"""``ennakoiva campaign run|send|receive|simulate-replies|follow-up|remind|expire|status|metrics``.

``run`` finds a proactive service's target group (a population read decided and logged under the
service's purpose), creates the offers and queues their SMS in the outbox; ``send`` drains the outbox
to the gateway (the local simulator by default: ``ENNAKOIVA_SMS_GATEWAY``) — kill it at any moment
and run it again: nothing is sent twice and nothing is lost. ``simulate-replies`` lets the
simulator's families answer (configurable behaviour) and processes their replies; ``follow-up``
runs the consented step (the fee check) for families who have since consented; ``remind`` and
``expire`` act on the clock; ``status`` and ``metrics`` report. ``send`` and ``receive`` also send
the fallback letters (no phone, SMS undeliverable) to the letter batch (``ENNAKOIVA_LETTER_BATCH_DIR``);
with a real provider whose reports arrive by webhook, run ``receive`` periodically for that.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ennakoiva.adapters.channels.simulator import FamilyBehaviour
from ennakoiva.domain.clock import today
from ennakoiva.domain.consent.decision import Actor
from ennakoiva.interfaces.cli.errors import clean_errors
from ennakoiva.interfaces.cli.options import JsonOption, StoreOption, settings_for
from ennakoiva.platform.campaign_metrics import campaign_metrics
from ennakoiva.platform.campaigns import Messaging, open_messaging, run_campaign, run_timeouts, send_fallbacks
from ennakoiva.platform.demo_campaign import CampaignStory, campaign_story, simulate_family_replies
from ennakoiva.platform.messaging import poll_gateway, receive_inbound
from ennakoiva.platform.operational import open_operational

__all__ = ["campaign_app", "show_campaign_story"]

console = Console()
campaign_app = typer.Typer(help="Proactive campaigns: offers by SMS, replies, reminders and metrics.",
                           no_args_is_help=True)

ServiceArg = Annotated[str, typer.Argument(help="Service id from the catalogue, e.g. preschool-offer.")]
ServiceOption = Annotated[str | None, typer.Option("--service", help="Only this service's latest campaign.")]
AtOption = Annotated[str | None, typer.Option("--at", help="The moment to act at, ISO 8601 (default: now).")]


def _progress() -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, transient=True, disable=not console.is_terminal)


def _date(on: str | None) -> date:
    try:
        return date.fromisoformat(on) if on else today()
    except ValueError as exc:
        raise ValueError(f"--on must be a date YYYY-MM-DD, not {on!r} ({exc})") from None


def _moment(at: str | None) -> datetime:
    if not at:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(at)
    except ValueError as exc:
        raise ValueError(f"--at must be ISO 8601, e.g. 2027-01-20T12:00+02:00, not {at!r} ({exc})") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@contextmanager
def _messaging(store: str | None, **kwargs: Any) -> Iterator[Messaging]:
    settings = settings_for(store)
    with open_messaging(settings, **kwargs) as messaging:
        yield messaging


def _send(messaging: Messaging) -> dict[str, Any]:
    pending = messaging.outbox.counts().get("queued", 0) + messaging.outbox.counts().get("sending", 0)
    with _progress() as bar:
        task = bar.add_task("sending", total=pending)
        report = messaging.sender.drain(progress=lambda n: bar.advance(task, n))
    data: dict[str, Any] = {k: round(v, 3) if isinstance(v, float) else v for k, v in asdict(report).items()}
    data["letters"] = send_fallbacks(messaging)   # no phone / SMS undeliverable: the letter batch
    return data


def _receive(messaging: Messaging) -> dict[str, int]:
    polled = poll_gateway(messaging.outbox, messaging.gateway,
                          lambda inbound: not receive_inbound(messaging.desk, inbound).duplicate)
    return {**asdict(polled), "letters": send_fallbacks(messaging)}


def _echo(data: dict[str, Any], json_out: bool, title: str) -> None:
    if json_out:
        typer.echo(json.dumps(data, indent=2, default=str, ensure_ascii=False))
        return
    table = Table(title=title, show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    for key, value in data.items():
        table.add_row(key, json.dumps(value, default=str) if isinstance(value, dict | list) else str(value))
    console.print(table)


@campaign_app.command("run")
@clean_errors
def run(
    service: ServiceArg,
    db: Annotated[Path, typer.Option("--db", help="DuckDB file of the city.")],
    on: Annotated[str | None, typer.Option("--on", help="Run date YYYY-MM-DD (default: today).")] = None,
    send: Annotated[bool, typer.Option("--send/--no-send", help="Drain the outbox right after queueing.")] = True,
    actor: Annotated[str, typer.Option("--actor", help="Who runs it (logged in the audit log).")] = "campaign-run",
    role: Annotated[str, typer.Option("--role", help="The actor's role.")] = "messaging-service",
    unit: Annotated[str, typer.Option("--in-service", help="The service the actor works in.")] = (
        "early-childhood-education"),
    store: StoreOption = None,
    json_out: JsonOption = False,
) -> None:
    """Find the target group, create one offer per subject and queue an SMS per guardian.

    The population read is decided and logged under the service's purpose first; a re-run on the
    same date adds only new subjects and queues nothing twice.
    """
    on_date = _date(on)
    settings = settings_for(store)
    with open_operational(settings) as ops, open_messaging(settings) as messaging:
        result = run_campaign(ops, messaging, db, service, on_date, Actor(id=actor, role=role, service=unit))
        data: dict[str, Any] = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in asdict(result).items()}
        if send:
            data["send"] = _send(messaging)
            data["receive"] = _receive(messaging)
    _echo(data, json_out, f"Campaign {service} on {on_date}")


@campaign_app.command("send")
@clean_errors
def send_command(
    batch: Annotated[int, typer.Option("--batch", min=1, help="Messages recorded per transaction.")] = 100,
    rate: Annotated[float | None, typer.Option("--rate", help="At most this many messages per second.")] = None,
    lease: Annotated[float | None, typer.Option("--lease", help="Seconds before a dead claim is retried.")] = None,
    store: StoreOption = None,
    json_out: JsonOption = False,
) -> None:
    """Drain the outbox to the gateway; safe to kill and re-run (exactly once with the simulator)."""
    lease_td = timedelta(seconds=lease) if lease is not None else None
    with _messaging(store, batch=batch, rate=rate, lease=lease_td) as messaging:
        data = _send(messaging)
        data["receive"] = _receive(messaging)
    _echo(data, json_out, "Outbox drained")


@campaign_app.command("receive")
@clean_errors
def receive(store: StoreOption = None, json_out: JsonOption = False) -> None:
    """Pull delivery reports and replies from the simulator and act on them (duplicates change nothing)."""
    with _messaging(store) as messaging:
        data = _receive(messaging)
    _echo(data, json_out, "Reports and replies")


@campaign_app.command("simulate-replies")
@clean_errors
def simulate_replies(
    hours: Annotated[float, typer.Option("--hours", help="Simulated hours after each question to release.")] = 72.0,
    answer_rate: Annotated[float, typer.Option("--answer-rate")] = FamilyBehaviour.answer_rate,
    accept_rate: Annotated[float, typer.Option("--accept-rate")] = FamilyBehaviour.accept_rate,
    median_delay: Annotated[float, typer.Option("--median-delay-minutes")] = FamilyBehaviour.median_delay_minutes,
    language_switch_rate: Annotated[float, typer.Option("--language-switch-rate")] = (
        FamilyBehaviour.language_switch_rate),
    typo_rate: Annotated[float, typer.Option("--typo-rate")] = FamilyBehaviour.typo_rate,
    unclear_rate: Annotated[float, typer.Option("--unclear-rate")] = FamilyBehaviour.unclear_rate,
    second_guardian_rate: Annotated[float, typer.Option("--second-guardian-rate")] = (
        FamilyBehaviour.second_guardian_rate),
    disagree_rate: Annotated[float, typer.Option("--disagree-rate")] = FamilyBehaviour.disagree_rate,
    seed: Annotated[int, typer.Option("--seed")] = 1,
    rounds: Annotated[int, typer.Option("--rounds", min=1, help="Answer, resend, answer again.")] = 3,
    store: StoreOption = None,
    json_out: JsonOption = False,
) -> None:
    """Let the simulator's families answer the questions sent to them, then process their replies.

    Families answer with the behaviour given (rates are probabilities); replies are released up to
    ``--hours`` after each question. Each round answers what the previous round sent (a family that
    asked for Swedish answers the Swedish offer next round).
    """
    behaviour = FamilyBehaviour(answer_rate=answer_rate, accept_rate=accept_rate, median_delay_minutes=median_delay,
                                language_switch_rate=language_switch_rate, typo_rate=typo_rate,
                                unclear_rate=unclear_rate, second_guardian_rate=second_guardian_rate,
                                disagree_rate=disagree_rate, seed=seed)
    with _messaging(store, behaviour=behaviour) as messaging:
        totals = asdict(simulate_family_replies(messaging, rounds=rounds, hours=hours))
    _echo(totals, json_out, "Simulated replies")


@campaign_app.command("follow-up")
@clean_errors
def follow_up(
    db: Annotated[Path, typer.Option("--db", help="DuckDB file of the city.")],
    on: Annotated[str | None, typer.Option("--on", help="Fee date YYYY-MM-DD (default: today).")] = None,
    send: Annotated[bool, typer.Option("--send/--no-send")] = True,
    store: StoreOption = None,
    json_out: JsonOption = False,
) -> None:
    """After consent: run the consented step (the fee check) and send each family its proposal once.

    Families that answered A got a link to give consent with strong identification; for those whose
    consent is now active the fee engine proposes the fee and a daycare unit, and one message tells them.
    """
    from ennakoiva.platform.campaign_followup import follow_up_consents  # noqa: PLC0415 - reads DuckDB

    settings = settings_for(store)
    with open_operational(settings) as ops, open_messaging(settings) as messaging:
        data: dict[str, Any] = asdict(follow_up_consents(ops, messaging, db, _date(on)))
        if send:
            data["send"] = _send(messaging)
    _echo(data, json_out, "Follow-up after consent")


def _timeouts(at: str | None, send: bool, store: str | None, json_out: bool, *, reminders: bool, title: str) -> None:
    """Run the reminders or the expiry due at ``at``, optionally send what they queued, and report."""
    with _messaging(store) as messaging:
        data = asdict(run_timeouts(messaging, _moment(at), reminders=reminders, expiry=not reminders))
        if send:
            data["send"] = _send(messaging)
    _echo(data, json_out, title)


@campaign_app.command("remind")
@clean_errors
def remind(at: AtOption = None, send: Annotated[bool, typer.Option("--send/--no-send")] = True,
           store: StoreOption = None, json_out: JsonOption = False) -> None:
    """Queue the reminders due at ``--at`` (to guardians who have not answered) and send them."""
    _timeouts(at, send, store, json_out, reminders=True, title="Reminders")


@campaign_app.command("expire")
@clean_errors
def expire(at: AtOption = None, send: Annotated[bool, typer.Option("--send/--no-send")] = True,
           store: StoreOption = None, json_out: JsonOption = False) -> None:
    """Expire the offers whose deadline passed by ``--at`` without an answer, and tell the families."""
    _timeouts(at, send, store, json_out, reminders=False, title="Expired offers")


@campaign_app.command("status")
@clean_errors
def status(store: StoreOption = None, json_out: JsonOption = False) -> None:
    """Campaigns, offers per state and outbox messages per status."""
    with _messaging(store) as messaging:
        campaigns = []
        for c in messaging.offers.campaigns():
            states = messaging.offers.state_counts(c["campaign_id"])
            campaigns.append({"campaign_id": c["campaign_id"], "service_id": c["service_id"], "run_on": c["run_on"],
                              "offers": sum(states.values()), "states": states})
        data = {"campaigns": campaigns, "outbox": messaging.outbox.counts()}
    if json_out:
        typer.echo(json.dumps(data, indent=2))
        return
    table = Table(title="Campaigns")
    for col in ("service", "run on", "offers", "states"):
        table.add_column(col)
    for c in campaigns:
        table.add_row(c["service_id"], c["run_on"], str(c["offers"]),
                      ", ".join(f"{k} {v}" for k, v in sorted(c["states"].items())))
    console.print(table)
    console.print(f"outbox: {data['outbox']}")


@campaign_app.command("metrics")
@clean_errors
def metrics(service: ServiceOption = None, store: StoreOption = None, json_out: JsonOption = False) -> None:
    """Sent, delivered, answered, accepted, declined, unclear; time to confirmation; by language and district."""
    with _messaging(store) as messaging:
        ids = ([messaging.offers.campaign_id(service)] if service
               else [c["campaign_id"] for c in messaging.offers.campaigns()])
        results = [campaign_metrics(messaging.offers, cid) for cid in ids if cid is not None]
    if json_out:
        typer.echo(json.dumps({"campaigns": results}, indent=2))
        return
    for r in results:
        table = Table(title=f"campaign {r['campaign_id']}")
        keys = ("offers", "sent", "fallback", "delivered", "answered", "accepted", "declined", "held", "unclear",
                "expired")
        table.add_column("group")
        for k in keys:
            table.add_column(k, justify="right")
        table.add_column("confirm s (median/p95)", justify="right")
        rows = [("total", r["total"]), *((f"lang {k}", v) for k, v in r["by_language"].items())]
        for label, s in rows:
            conf = s["confirmation_seconds"]
            table.add_row(label, *(str(s[k]) for k in keys), f"{conf['median']} / {conf['p95']}")
        console.print(table)


_SHOWN = ("offers", "sent", "fallback", "delivered", "answered", "accepted", "declined", "unclear", "held", "expired")


def _metrics_table(title: str, groups: list[tuple[str, dict[str, Any]]]) -> None:
    """Metrics as rows, groups as columns: fits a terminal whatever the number of metrics."""
    table = Table(title=title, box=box.SIMPLE, padding=(0, 1), pad_edge=False)
    table.add_column("metric", no_wrap=True)
    for label, _ in groups:
        table.add_column(label, justify="right", no_wrap=True)
    names = {"fallback": "fallback (letter)"}
    for k in _SHOWN:
        table.add_row(names.get(k, k), *(str(g[k]) for _, g in groups))
    for q in ("median", "p95"):
        table.add_row(f"confirm s {q}", *(str(g["confirmation_seconds"][q]) for _, g in groups))
    console.print(table)


def show_campaign_story(db: Path, folder: Path, on: date, settings: Any = None) -> CampaignStory:
    """The demo's campaign: run the pre-school story with the simulator and print its metrics."""
    story = campaign_story(db, folder, on, settings=settings)
    steps = Table(title="Pre-school place by SMS (simulated families)", show_header=False)
    steps.add_column("step")
    steps.add_column("outcome")
    for step, outcome in story.steps:
        steps.add_row(step, outcome)
    console.print(steps)
    districts = sorted(story.by_district.items(), key=lambda kv: -kv[1]["offers"])
    groups = [("total", story.total), *((f"lang {k}", v) for k, v in story.by_language.items())]
    _metrics_table("Campaign metrics (from the store's rows)", groups)
    _metrics_table("... by district (the 5 largest)", [(k, v) for k, v in districts[:5]])
    rest = len(districts) - 5
    more = f"; {rest} more districts in `ennakoiva campaign metrics`" if rest > 0 else ""
    console.print(f"Campaign story took {story.seconds:.1f} s{more}.")
    return story
