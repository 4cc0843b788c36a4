"""``ennakoiva fee``: the ECEC client fee by law, and the consented fee-and-place proposal.

``ennakoiva fee --family-size N --income EUR --children K`` computes the fee from figures typed in
(nothing personal is read). ``ennakoiva fee propose --db PATH --guardian ID`` runs the consented
income check through the access gate — every read decided and logged — and proposes a fee and a
daycare place, or the alternative route when there is no active consent.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ennakoiva.adapters.engine import DuckDBEngine
from ennakoiva.domain.clock import today
from ennakoiva.domain.fees import FeeChild, FeeDecision, FeeFamily, IncomeItem, calculate_fees, load_fee_parameters
from ennakoiva.interfaces.cli.errors import clean_errors
from ennakoiva.interfaces.cli.options import JsonOption, StoreOption, settings_for
from ennakoiva.platform.fee_proposal import FeeProposal, propose_fee
from ennakoiva.platform.operational import open_operational

__all__ = ["decision_json", "fee_app"]

console = Console()
fee_app = typer.Typer(help="The daycare (ECEC) client fee by L 1503/2016, and the consented fee proposal.")

FULL_TIME = Decimal(8)
OnOption = Annotated[str | None, typer.Option(
    "--on", help="Date of the fee (YYYY-MM-DD); default today in Helsinki. The income limits from "
                 "1.8.2026 are not yet captured: a fee from income on or after that date is refused.")]


def _date(value: str | None) -> date:
    if value is None:
        return today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"--on must be a date YYYY-MM-DD, not {value!r}") from None


def _euros(value: str) -> Decimal:
    try:
        amount = Decimal(value.replace(",", ".").replace(" ", ""))
    except InvalidOperation:
        raise ValueError(f"--income must be euros per month, e.g. 6000 or 6000.50, not {value!r}") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"--income must be zero or more euros per month, not {value!r}")
    return amount


def _hours(values: list[float] | None, children: int) -> list[Decimal]:
    """One value for every child, or one per child (youngest first); full-time when not given."""
    hours = [Decimal(str(h)) for h in values or []] or [FULL_TIME]
    if len(hours) == 1:
        hours *= children
    if len(hours) != children:
        raise ValueError(f"--hours-per-day given {len(values or [])} times: give it once (every child) or "
                         f"{children} times (one per child, youngest first)")
    bad = [h for h in hours if not 0 < h <= 24]
    if bad:
        raise ValueError(f"--hours-per-day must be above 0 and at most 24, not {bad[0]}")
    return hours


def _family(size: int, children: int, income: Decimal | None, hours: list[Decimal], on: date,
            max_fee: bool) -> FeeFamily:
    """A family from the figures typed in: adults = size − minors, at most two (the law's couple)."""
    if children < 1:
        raise ValueError("--children must be at least 1")
    if size < children + 1:
        raise ValueError(f"--family-size {size} cannot hold {children} child(ren) and an adult")
    adults = 2 if size - children >= 2 else 1
    # order 1 is the youngest: child k is born k days before the date (only the order matters here)
    kids = [FeeChild(name=f"child {k}", birth_date=on - timedelta(days=k), hours_per_day=h)
            for k, h in enumerate(hours, start=1)]
    incomes = [] if income is None else [IncomeItem(person="family", income_type="wages", amount_per_month=income)]
    return FeeFamily(adults=adults, minor_children=size - adults, children=kids, incomes=incomes,
                     accepts_maximum_fee=max_fee)


def decision_json(decision: FeeDecision, hours: list[Decimal] | None = None) -> dict[str, Any]:
    """The short shape (children youngest first, total, parameter date) plus the full trace."""
    return {
        "children": [{"order": c.order, "fee": c.fee} for c in decision.children],
        "total": decision.total,
        "parameters_valid_from": decision.parameters_valid_from.isoformat(),
        "trace": {
            "on": decision.on.isoformat(), "municipality": decision.municipality,
            "family_size": decision.family_size, "income_basis": decision.income_basis,
            "counted_income": None if decision.counted_income is None else str(decision.counted_income),
            "income_limit": None if decision.income_limit is None else str(decision.income_limit),
            "full_time_fee": decision.full_time_fee,
            "parameters": [p.model_dump(mode="json") for p in decision.parameters_used],
            "steps": [ln.model_dump() for ln in decision.lines],
            "children": [{"order": c.order, **({"hours_per_day": str(hours[c.order - 1])} if hours else {}),
                          "fee": c.fee, "steps": [ln.model_dump() for ln in c.lines]} for c in decision.children],
        },
    }


def _print_decision(decision: FeeDecision, title: str) -> None:
    fees = Table(title=title)
    fees.add_column("order (1 = youngest)", justify="right")
    fees.add_column("child")
    fees.add_column("fee €/month", justify="right")
    for c in decision.children:
        fees.add_row(str(c.order), c.name, str(c.fee))
    fees.add_row("", "[bold]total[/]", f"[bold]{decision.total}[/]")
    console.print(fees)
    params = Table(title=f"Parameters used (in force {decision.on.isoformat()})")
    for col in ("parameter", "value", "valid from", "legal reference"):
        params.add_column(col)
    for p in decision.parameters_used:
        params.add_row(p.name, p.value, p.valid_from.isoformat(), p.reference)
    console.print(params)
    steps = Table(title="How the fee was computed")
    for col in ("child", "step", "what", "figure", "reference"):
        steps.add_column(col)
    for ln in decision.lines:
        steps.add_row("", ln.step, ln.text, ln.figure, ln.reference)
    for c in decision.children:
        for ln in c.lines:
            steps.add_row(str(c.order), ln.step, ln.text, ln.figure, ln.reference)
    console.print(steps)


@fee_app.callback(invoke_without_command=True)
@clean_errors
def fee(ctx: typer.Context,
        family_size: Annotated[int | None, typer.Option("--family-size", help="Adults and minor children of the "
                                                        "household (L 1503/2016 § 5).")] = None,
        income: Annotated[str | None, typer.Option("--income", help="The family's gross income, € per month; "
                                                   "omitted = not reported, the maximum fee.")] = None,
        children: Annotated[int | None, typer.Option("--children", help="Children in ECEC.")] = None,
        hours_per_day: Annotated[list[float] | None, typer.Option(
            "--hours-per-day", help="Care hours a day: once for every child, or once per child, youngest first "
                                    "(default full-time).")] = None,
        on: OnOption = None,
        max_fee: Annotated[bool, typer.Option("--max-fee", help="The family accepts the maximum fee without "
                                              "an income statement.")] = False,
        municipality: Annotated[str, typer.Option("--municipality", help="Whose hour tiers apply.")] = "helsinki",
        json_out: JsonOption = False) -> None:
    """The monthly fee of each child, youngest first, with the parameters and steps used."""
    if ctx.invoked_subcommand is not None:
        return
    if family_size is None or children is None:
        raise ValueError("give --family-size and --children (and --income, or omit it for the maximum fee); "
                         "see ennakoiva fee --help")
    when = _date(on)
    hours = _hours(hours_per_day, children)
    family = _family(family_size, children, None if income is None else _euros(income), hours, when, max_fee)
    decision = calculate_fees(family, when, load_fee_parameters(municipality))
    if json_out:
        typer.echo(json.dumps(decision_json(decision, hours), indent=2, ensure_ascii=False))
        return
    _print_decision(decision, f"Daycare fee on {when.isoformat()} ({decision.municipality}), family of "
                              f"{decision.family_size}: {decision.income_basis.replace('_', ' ')}")


def _print_proposal(p: FeeProposal) -> None:
    if p.decision is not None:
        _print_decision(p.decision, f"Proposed fee on {p.on.isoformat()} for the family of guardian {p.guardian}")
        months = ", ".join(f"{m:%Y-%m}" for m in p.income_months)
        console.print(f"incomes: mean of {months} from the Incomes Register, checked with the family's consent")
    if p.placements:
        places = Table(title=f"Proposed daycare place ({p.language})")
        for col in ("", "unit", "postal code", "free places", "why"):
            places.add_column(col)
        for i, u in enumerate(p.placements):
            places.add_row("proposed" if i == 0 else "or", u.name, u.postal_code, str(u.free_places), u.nearness)
        console.print(places)
    if p.status != "proposed" or p.decision is None or p.decision.income_basis != "income":
        m = p.maximum_fees.children
        console.print(f"[bold]alternative route[/]: {p.alternative_route.get('en', '')} — maximum fee "
                      f"{m[0].fee} € (youngest), {m[1].fee} € (second), {m[2].fee} € (each further child)")
    checks = Table(title="Access decisions (each logged in the audit chain)")
    for col in ("subject", "as", "outcome", "reason", "categories"):
        checks.add_column(col)
    for s in p.steps:
        checks.add_row(str(s.subject_id), s.role, s.outcome, s.reason, ",".join(s.categories))
    console.print(checks)
    for note in p.notes:
        console.print(f"• {note}")
    console.print(f"status: [bold]{p.status}[/]")


@fee_app.command("propose")
@clean_errors
def propose(db: Annotated[Path, typer.Option("--db", help="DuckDB file of the city.")],
            guardian: Annotated[int, typer.Option("--guardian", help="person_id of the guardian asking.")],
            on: OnOption = None,
            hours_per_day: Annotated[float, typer.Option("--hours-per-day", help="Daily care time asked for.")]
            = float(FULL_TIME),
            store: StoreOption = None, json_out: JsonOption = False) -> None:
    """Check the family's incomes (with consent), propose the fee and a daycare place; every read is audited."""
    when = _date(on)
    hours = _hours([hours_per_day], 1)[0]
    with DuckDBEngine(db, read_only=True) as engine, open_operational(settings_for(store)) as ops:
        proposal = propose_fee(engine, ops, guardian, when, hours_per_day=hours)
    if json_out:
        typer.echo(json.dumps(proposal.as_dict(), indent=2, ensure_ascii=False))
        return
    _print_proposal(proposal)
