"""The consented daycare-fee proposal: the family's incomes checked, a fee and a place proposed.

A guardian has consented (for their child, covering the household's adults) to the income check
under ``daycare-fee-income-check``. The fee engine then, every read decided and logged by the
access gate:

1. reads the child's own rows (person, household, relations, income) under the child's consent;
2. finds which of the child's guardians — and their spouses — live in the child's household (the
   law's family, L 1503/2016 § 5; a separated guardian elsewhere is not read at all) and counts
   the household's minors;
3. reads those adults' incomes under the same consent (``via_consent_of``), averaging each income
   type over the last complete months before the decision month;
4. computes the fee by the dated parameters (``domain.fees``) and proposes a daycare centre with
   free places that serves in the family's language (fi/sv), nearest to home first.

Without an active consent nothing is read: the denial is logged and the family is offered the
alternative route (send the income documents themselves, or accept the maximum fee). A withdrawn
consent is refused at the gate the same way, so withdrawing stops every further check.
Parameters that are not known for the date (the 1.8.2026 income limits) stop the check *before*
anything is read: no data is fetched for a fee that cannot be computed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

import pyarrow as pa

from ennakoiva.adapters.engine import DuckDBEngine
from ennakoiva.adapters.engine.family_queries import (
    DaycareUnit,
    daycare_units_with_room,
    household_members_among,
    household_minors,
    income_register_months,
)
from ennakoiva.domain.consent.audit import AuditRecord
from ennakoiva.domain.consent.decision import Actor, Decision
from ennakoiva.domain.consent.records import status_at, validate_subject_id
from ennakoiva.domain.fees import (
    FeeChild,
    FeeDecision,
    FeeFamily,
    FeeParameters,
    IncomeItem,
    calculate_fees,
    load_fee_parameters,
)
from ennakoiva.domain.fees.parameters import FreeBasis
from ennakoiva.domain.types import Lang
from ennakoiva.platform.access import AccessDeniedError
from ennakoiva.platform.consents import ConsentView
from ennakoiva.platform.operational import Operational

__all__ = ["FEE_ENGINE", "FEE_PURPOSE", "INCOME_MONTHS", "AccessStep", "FeeProposal", "PlacementOption",
           "income_window", "propose_fee"]

FEE_PURPOSE = "daycare-fee-income-check"
# the fee engine is a service account of the ECEC service acting in the purpose's fee-officer role
FEE_ENGINE = Actor(id="fee-engine", role="fee-officer", service="early-childhood-education")
# Incomes Register rows are monthly and vary (overtime, one-off benefits): the fee uses each income
# type's mean over the last three complete months before the decision month.
INCOME_MONTHS = 3
FULL_TIME_HOURS = Decimal(8)
CHILD_TABLES = ["person", "household", "family_relation", "income"]
ADULT_TABLES = ["person", "family_relation", "income"]

Status = Literal["proposed", "no_consent", "consent_not_active"]
Nearness = Literal["same postal code area", "same district", "same major district", "elsewhere in the city"]
_NEARNESS: tuple[Nearness, ...] = ("same postal code area", "same district", "same major district",
                                   "elsewhere in the city")


@dataclass(frozen=True)
class AccessStep:
    """One access decision the flow made (already in the audit log): whose data, why, the outcome."""

    subject_id: int
    role: str
    outcome: str
    reason: str
    categories: tuple[str, ...]


@dataclass(frozen=True)
class PlacementOption:
    """A daycare centre proposed for the children, with why it was chosen."""

    unit_id: int
    name: str
    postal_code: str
    district_code: str
    language: str
    free_places: int
    nearness: Nearness


@dataclass
class FeeProposal:
    """What the family is told: the fee with its steps, a place, or the alternative route."""

    status: Status
    guardian: int
    on: date
    alternative_route: Mapping[Lang, str]
    maximum_fees: FeeDecision
    steps: list[AccessStep] = field(default_factory=list)
    decision: FeeDecision | None = None
    children: list[int] = field(default_factory=list)
    language: str | None = None
    placements: list[PlacementOption] = field(default_factory=list)
    income_months: list[date] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready proposal: the CLI prints it; person ids are pseudonyms, never HETUs."""
        decision = self.decision
        maxima = self.maximum_fees
        return {
            "status": self.status,
            "guardian": self.guardian,
            "on": self.on.isoformat(),
            "children": ([{"order": c.order, "person_id": int(c.name), "fee": c.fee} for c in decision.children]
                         if decision else []),
            "total": decision.total if decision else None,
            "parameters_valid_from": decision.parameters_valid_from.isoformat() if decision else None,
            "income_basis": decision.income_basis if decision else None,
            "family_size": decision.family_size if decision else None,
            "counted_income": str(decision.counted_income) if decision and decision.counted_income is not None
            else None,
            "income_months": [m.isoformat()[:7] for m in self.income_months],
            "explanation": decision.explain().splitlines() if decision else [],
            "parameters": [p.model_dump(mode="json") for p in decision.parameters_used] if decision else [],
            "placement": {
                "language": self.language,
                "proposed": _placement_dict(self.placements[0]) if self.placements else None,
                "alternatives": [_placement_dict(p) for p in self.placements[1:]],
            },
            "alternative_route": {
                "text": dict(self.alternative_route),
                "options": ["submit_income_documents", "accept_maximum_fee"],
                "maximum_fee": {"youngest": maxima.children[0].fee, "second": maxima.children[1].fee,
                                "further": maxima.children[2].fee,
                                "parameters_valid_from": maxima.parameters_valid_from.isoformat()},
            },
            "access_decisions": [{"subject_id": s.subject_id, "role": s.role, "outcome": s.outcome,
                                  "reason": s.reason, "categories": list(s.categories)} for s in self.steps],
            "notes": list(self.notes),
        }


def _placement_dict(p: PlacementOption) -> dict[str, Any]:
    return {"unit_id": p.unit_id, "name": p.name, "postal_code": p.postal_code, "district_code": p.district_code,
            "language": p.language, "free_places": p.free_places, "nearness": p.nearness}


def income_window(on: date, months: int = INCOME_MONTHS) -> list[date]:
    """The first days of the ``months`` complete months before the month of ``on``, oldest first.

    >>> [d.isoformat() for d in income_window(date(2026, 2, 15))]
    ['2025-11-01', '2025-12-01', '2026-01-01']
    """
    out: list[date] = []
    first = on.replace(day=1)
    for _ in range(months):
        first = (first - timedelta(days=1)).replace(day=1)
        out.append(first)
    return out[::-1]


def _maximum_fees(on: date, parameters: FeeParameters) -> FeeDecision:
    """The maximum fees of the youngest, second and further child on ``on`` (the alternative route)."""
    kids = [FeeChild(name=f"child {i}", birth_date=on - timedelta(days=i), hours_per_day=FULL_TIME_HOURS)
            for i in (1, 2, 3)]
    family = FeeFamily(adults=1, minor_children=3, children=kids, accepts_maximum_fee=True)
    return calculate_fees(family, on, parameters)


def _latest_consents(ops: Operational, guardian: int) -> list[ConsentView]:
    """The newest fee-check consent per child that the guardian gave or that covers them."""
    latest: dict[int, ConsentView] = {}
    for view in ops.consents.views_of_person(guardian):
        if view.record.purpose_id != FEE_PURPOSE:
            continue
        known = latest.get(view.record.subject_id)
        if known is None or view.record.created_at > known.record.created_at:
            latest[view.record.subject_id] = view
    return [latest[k] for k in sorted(latest)]


def _free_hours(birth: date, on: date) -> FreeBasis | None:
    """Pre-primary the year a child turns six, Helsinki's free hours the year it turns five.

    Both follow the operating year that begins on 1 August (fees.md §3.5).

    >>> [_free_hours(date(year, 3, 1), date(2026, 3, 1)) for year in (2019, 2020, 2021)]
    ['pre_primary', 'age_five', None]
    >>> _free_hours(date(2020, 3, 1), date(2026, 8, 1))
    'pre_primary'
    """
    year = on.year if on.month >= 8 else on.year - 1
    return {year - 6: "pre_primary", year - 5: "age_five"}.get(birth.year)  # type: ignore[return-value]


def _school_age(birth: date, on: date) -> bool:
    year = on.year if on.month >= 8 else on.year - 1
    return birth.year <= year - 7


def _income_items(person: int, income: pa.Table, window: list[date]) -> list[IncomeItem]:
    """Mean per income type over the window; no register row at all is a known zero income."""
    totals: dict[str, Decimal] = {}
    for row in income.to_pylist():
        if row["person_id"] == person and row["month"] in window:
            totals[row["income_type"]] = totals.get(row["income_type"], Decimal(0)) + Decimal(str(row["amount_eur"]))
    return [IncomeItem(person=str(person), income_type=kind,
                       amount_per_month=(total / len(window)).quantize(Decimal("0.01")))
            for kind, total in sorted(totals.items())]


def _rank_units(units: list[DaycareUnit], home_postal: str, home_district: str, language: str,
                children: int, limit: int) -> list[PlacementOption]:
    """Centres with room for all the children, nearest first, then the most free places.

    The data layer holds no coordinates, so "near" is by area: the home's postal code area, its
    basic district, its major district (Helsinki's basic-district codes begin with the major
    district's digit: 1xx southern, 2xx western, …), then the rest of the city.
    """

    def nearness(u: DaycareUnit) -> int:
        if u.postal_code == home_postal:
            return 0
        if u.district_code == home_district:
            return 1
        return 2 if u.district_code[:1] == home_district[:1] else 3

    room = [u for u in units if u.free_places >= children]
    ranked = sorted(room, key=lambda u: (nearness(u), -u.free_places, u.unit_id))[:limit]
    return [PlacementOption(unit_id=u.unit_id, name=u.name, postal_code=u.postal_code, district_code=u.district_code,
                            language=language, free_places=u.free_places, nearness=_NEARNESS[nearness(u)])
            for u in ranked]


class _Reader:
    """Reads through the access gate and remembers every decision for the proposal.

    The child's rows are read under *one* logged decision, which also authorises the household
    queries: the purpose allows a limited number of checks a year, and one proposal is one check.
    """

    def __init__(self, engine: DuckDBEngine, ops: Operational) -> None:
        self.engine, self.ops = engine, ops
        self.steps: list[AccessStep] = []
        self.decided: dict[int, Decision] = {}

    def unread(self) -> None:
        """Record the covered adults decided but not read (registered in another household)."""
        for adult, decision in sorted(self.decided.items()):
            self._log(adult, "covered adult, not read (lives elsewhere)", decision)
        self.decided.clear()

    def _log(self, subject: int, role: str, decision: Decision) -> None:
        self.steps.append(AccessStep(subject, role, decision.outcome, decision.reason, decision.categories))

    def decide(self, subject: int, role: str, categories: tuple[str, ...]) -> Decision:
        decision = self.ops.gate.decide(FEE_ENGINE, FEE_PURPOSE, subject, categories)
        self._log(subject, role, decision)
        return decision

    def child(self, child: int) -> tuple[Decision, dict[str, pa.Table]] | None:
        """The child's own rows, decided and logged once; ``None`` when refused (nothing read)."""
        registry = self.engine.registry
        categories = tuple(dict.fromkeys(registry.table(t).category or "" for t in CHILD_TABLES))
        decision = self.decide(child, "child", categories)
        if not decision.permit:
            return None
        return decision, {t: self.engine.read_subject(t, child, decision) for t in CHILD_TABLES}

    def predecide(self, adult: int, via: int) -> None:
        """Decide (and log) a covered adult's read under the child's consent; read later if they count."""
        if adult in self.decided:
            return
        registry = self.engine.registry
        categories = tuple(dict.fromkeys(registry.table(t).category or "" for t in ADULT_TABLES))
        self.decided[adult] = self.ops.gate.decide(FEE_ENGINE, FEE_PURPOSE, adult, categories, via_consent_of=via)

    def adult(self, subject: int, role: str, via: int) -> dict[str, pa.Table] | None:
        """A household adult's rows under the child's consent.

        An adult decided beforehand is read with that decision (the whole check is re-checked
        against the consent at the end); anyone else goes through the gate's own read.
        """
        decision = self.decided.pop(subject, None)
        if decision is not None:
            self._log(subject, role, decision)
            if not decision.permit:
                return None
            return {t: self.engine.read_subject(t, subject, decision) for t in ADULT_TABLES}
        try:
            data = self.ops.gate.read(self.engine, FEE_ENGINE, FEE_PURPOSE, subject, ADULT_TABLES, via_consent_of=via)
        except AccessDeniedError as exc:
            self._log(subject, role, exc.decision)
            return None
        categories = tuple(dict.fromkeys(self.engine.registry.table(t).category or "" for t in ADULT_TABLES))
        self.steps.append(AccessStep(subject, role, "permit", "consent_active", categories))
        return data

    def still_consented(self, child: int, decision: Decision) -> bool:
        """Re-check the consent after the whole check, as the gate does after one read.

        A withdrawal that committed while the check ran discards everything read; the discard is
        logged like the gate's own ``discarded_after_withdrawal``.
        """
        assert decision.consent_record_id is not None
        record, events = self.ops.store.get(UUID(decision.consent_record_id))
        at = self.ops.gate.clock()
        if status_at(record, events, at).active:
            return True
        self.ops.audit.append(AuditRecord(
            at=at, actor_id=FEE_ENGINE.id, role=FEE_ENGINE.role, service=FEE_ENGINE.service,
            purpose_id=decision.purpose_id, subject_id=child, categories=decision.categories, decision="deny",
            reason="discarded_after_withdrawal", policy_version=decision.policy_version,
            consent_record_id=decision.consent_record_id))
        self.steps.append(AccessStep(child, "child", "deny", "discarded_after_withdrawal", decision.categories))
        return False


def propose_fee(engine: DuckDBEngine, ops: Operational, guardian: object, on: date, *,
                hours_per_day: Decimal = FULL_TIME_HOURS, parameters: FeeParameters | None = None,
                options: int = 3) -> FeeProposal:
    """Check the family's incomes (if consented), compute the fee and propose a daycare place."""
    params = parameters or load_fee_parameters()
    guardian_id = validate_subject_id(guardian)
    purpose = ops.purposes[FEE_PURPOSE]
    proposal = FeeProposal(status="no_consent", guardian=guardian_id, on=on,
                           alternative_route=purpose.alternative_route or {}, maximum_fees=_maximum_fees(on, params))
    reader = _Reader(engine, ops)
    proposal.steps = reader.steps
    consents = _latest_consents(ops, guardian_id)
    if not consents:
        # nothing to rely on: the refusal itself is decided and logged, and no row is read
        reader.decide(guardian_id, "guardian", ("income",))
        proposal.notes.append("no consent to the income check: send your income documents or accept the "
                              "maximum fee")
        return proposal
    window = income_window(on)
    if any(v.status.active for v in consents):
        _check_before_reading(engine, on, params, window)
    children: list[tuple[int, Decision, dict[str, pa.Table]]] = []
    for view in consents:
        child = view.record.subject_id
        if view.status.active:
            # the adults the consent covers are decided *before* the child: the purpose's yearly limit
            # counts permits about the child, and one proposal must be one check, not two
            for adult in view.record.covered_subjects:
                reader.predecide(adult, via=child)
        got = reader.child(child)
        if got is not None:
            children.append((child, *got))
    if not children:
        reader.unread()
        proposal.status = "consent_not_active"
        reasons = sorted({s.reason for s in reader.steps if s.outcome == "deny"})
        proposal.notes.append(f"the income check was refused ({', '.join(reasons)}): nothing was read; send "
                              "your income documents or accept the maximum fee")
        return proposal
    _propose(proposal, reader, children, window, hours_per_day, params, options)
    reader.unread()
    if not all(reader.still_consented(c, d) for c, d, _ in children):
        return FeeProposal(status="consent_not_active", guardian=guardian_id, on=on,
                           alternative_route=proposal.alternative_route, maximum_fees=proposal.maximum_fees,
                           steps=reader.steps, notes=["consent was withdrawn during the check: everything read "
                                                      "was discarded"])
    return proposal


def _check_before_reading(engine: DuckDBEngine, on: date, params: FeeParameters, window: list[date]) -> None:
    """Refuse before any personal read when the fee could not be computed from what would be read."""
    params.law.income_limits.at("income_limits", on)  # raises MissingFeeParameterError, naming the date
    months = income_register_months(engine)
    if months is None or window[0] < months[0] or window[-1] > months[1]:
        held = f"{months[0]:%Y-%m} to {months[1]:%Y-%m}" if months else "no months"
        raise ValueError(f"the Incomes Register extract holds {held}; the fee on {on.isoformat()} needs "
                         f"{window[0]:%Y-%m} to {window[-1]:%Y-%m}")


def _propose(proposal: FeeProposal, reader: _Reader, children: list[tuple[int, Decision, dict[str, pa.Table]]],
             window: list[date], hours: Decimal, params: FeeParameters, options: int) -> None:
    on = proposal.on
    first, permit, data = children[0]
    home = data["household"].to_pylist()[0]
    same_home = [(c, d) for c, _, d in children
                 if d["person"].to_pylist()[0]["household_id"] == home["household_id"]]
    proposal.notes.extend(f"child {c} lives in another household: that household gets its own fee decision"
                          for c, _, _ in children if c not in {k for k, _ in same_home})
    adults = _household_adults(proposal, reader, first, permit, same_home)
    incomes = [item for c, d in same_home for item in _income_items(c, d["income"], window)]
    incomes.extend(_adult_incomes(proposal, adults, window))
    kids: list[FeeChild] = []
    for c, d in same_home:
        row = d["person"].to_pylist()[0]
        if _school_age(row["birth_date"], on):
            proposal.notes.append(f"child {c} is of school age: no daycare place is proposed")
            continue
        kids.append(FeeChild(name=str(c), birth_date=row["birth_date"], hours_per_day=hours,
                             free_hours=_free_hours(row["birth_date"], on)))
    proposal.status = "proposed"
    if not kids:
        return
    minors = max(household_minors(reader.engine, first, permit, on), len(kids))
    family = FeeFamily(adults=len(adults), minor_children=minors, children=kids, incomes=incomes)
    proposal.decision = calculate_fees(family, on, params)
    proposal.children = [int(k.name) for k in kids]
    proposal.income_months = window
    proposal.language = _language(data["person"].to_pylist()[0]["mother_tongue"],
                                  [d["person"].to_pylist()[0]["mother_tongue"] for d in adults.values() if d])
    units = daycare_units_with_room(reader.engine, on, proposal.language)
    proposal.placements = _rank_units(units, home["postal_code"], home["district_code"], proposal.language,
                                      len(kids), options)
    if not proposal.placements:
        proposal.notes.append(f"no daycare centre serving in '{proposal.language}' has {len(kids)} free place(s) "
                              f"on {on.isoformat()}: the application is queued")
    proposal.notes.append("if another child of the family already attends ECEC, tell us: the older child's fee "
                          "is 40 % or 20 % of the youngest child's (L 1503/2016 § 8)")


def _household_adults(proposal: FeeProposal, reader: _Reader, first: int, permit: Decision,
                      same_home: list[tuple[int, dict[str, pa.Table]]]) -> dict[int, dict[str, pa.Table] | None]:
    """The law's adults: the children's guardians living with them, and those guardians' spouses there.

    A guardian registered elsewhere is not read at all; an adult the consent does not cover maps to
    ``None`` (their income is missing, never guessed).
    """
    kids = {c for c, _ in same_home}
    guardians = sorted({r["person_id"] for _, d in same_home for r in d["family_relation"].to_pylist()
                        if r["relation"] == "guardian_of" and r["related_person_id"] in kids})
    at_home = household_members_among(reader.engine, first, permit, guardians)
    proposal.notes.extend(f"guardian {g} lives in another household: their income does not count "
                          "(L 1503/2016 § 5) and was not read" for g in guardians if g not in at_home)
    adults: dict[int, dict[str, pa.Table] | None] = {g: reader.adult(g, "guardian", via=first) for g in sorted(at_home)}
    spouses = sorted({r["related_person_id"] if r["person_id"] == g else r["person_id"]
                      for g, d in adults.items() if d is not None for r in d["family_relation"].to_pylist()
                      if r["relation"] == "spouse_of"} - set(adults))
    for s in sorted(household_members_among(reader.engine, first, permit, spouses)):
        adults[s] = reader.adult(s, "spouse", via=first)
    if not adults:
        raise ValueError(f"no guardian of child {first} lives in the child's household")
    return adults


def _adult_incomes(proposal: FeeProposal, adults: dict[int, dict[str, pa.Table] | None],
                   window: list[date]) -> list[IncomeItem]:
    items: list[IncomeItem] = []
    for person, d in sorted(adults.items()):
        if d is None:
            items.append(IncomeItem(person=str(person), income_type="wages", status="missing"))
            proposal.notes.append(f"the income of household adult {person} could not be checked (not covered by "
                                  "the consent): send their income documents, or the maximum fee applies")
            continue
        # no register row in the window is a known zero, stated as one item so the family sees it
        items.extend(_income_items(person, d["income"], window)
                     or [IncomeItem(person=str(person), income_type="wages", amount_per_month=Decimal(0))])
    return items


def _language(child_tongue: str, adult_tongues: list[str]) -> str:
    """Finnish or Swedish daycare: the child's mother tongue, else a Swedish-speaking guardian's, else fi.

    >>> _language("sv", ["fi"]), _language("ru", ["sv", "ru"]), _language("en", ["en"])
    ('sv', 'sv', 'fi')
    """
    if child_tongue in ("fi", "sv"):
        return child_tongue
    return "sv" if "sv" in adult_tongues else "fi"
