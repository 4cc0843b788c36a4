"""The ECEC client fee by L 1503/2016, in eVaka's order of operations (fees.md §4).

1. family size → income limit; 2. income (known items only; any missing or refused item, or the
family's acceptance of the maximum fee, gives the maximum fee); 3. full-time fee = percentage ×
income above the limit, capped at the maximum; 4. siblings, youngest child first, as shares of the
youngest child's full-time fee; 5. free hours, then the municipality's hour tier; 6. a fee below
the minimum is not charged. Every step rounds half up to whole euros and leaves a line with its
figure and legal reference, so the family can check the decision.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict

from ennakoiva.domain.fees.family import FeeChild, FeeFamily
from ennakoiva.domain.fees.parameters import ExcludedIncome, FeeParameters, HourTier, InForce, Parameter
from ennakoiva.domain.fees.rounding import round_half_up

__all__ = ["ChildFee", "FeeCalculationError", "FeeDecision", "FeeLine", "IncomeBasis", "UsedParameter",
           "calculate_fees"]

T = TypeVar("T")

IncomeBasis = Literal["income", "maximum_fee_accepted", "income_missing", "income_refused", "income_not_reported"]

LAW = "L 1503/2016"


class FeeCalculationError(ValueError):
    """The family data cannot be used for a fee (e.g. an income type the registry does not know)."""


class FeeLine(BaseModel):
    """One step of the decision: what was done, the resulting figure and the legal reference."""

    model_config = ConfigDict(frozen=True)

    step: str
    text: str
    figure: str
    reference: str


class UsedParameter(BaseModel):
    """A parameter the decision read: its value in force, the date it took effect and its reference.

    Kept on the decision so the family (and the CLI's trace) can see exactly which dated values of
    the law and of the municipality produced the fee.
    """

    model_config = ConfigDict(frozen=True)

    name: str
    value: str
    valid_from: date
    reference: str


class ChildFee(BaseModel):
    """One child's monthly fee; ``order`` 1 is the youngest child in ECEC."""

    model_config = ConfigDict(frozen=True)

    order: int
    name: str
    fee: int
    lines: list[FeeLine]


class FeeDecision(BaseModel):
    """The fees of a family's children on a date, with every step explained."""

    model_config = ConfigDict(frozen=True)

    on: date
    municipality: str
    family_size: int
    income_basis: IncomeBasis
    counted_income: Decimal | None
    income_limit: Decimal | None
    full_time_fee: int
    children: list[ChildFee]
    total: int
    lines: list[FeeLine]
    parameters_valid_from: date
    parameters_used: list[UsedParameter] = []

    def summary(self) -> dict[str, object]:
        """The short JSON shape the CLI prints: children youngest first, total, parameter date.

        >>> from ennakoiva.domain.fees.family import FeeChild
        >>> from ennakoiva.domain.fees.parameters import load_fee_parameters
        >>> fam = FeeFamily(adults=2, minor_children=1, accepts_maximum_fee=True,
        ...     children=[FeeChild(name="a", birth_date=date(2021, 5, 1), hours_per_day=Decimal(8))])
        >>> calculate_fees(fam, date(2025, 3, 1), load_fee_parameters()).summary()
        {'children': [{'order': 1, 'name': 'a', 'fee': 311}], 'total': 311, 'parameters_valid_from': '2024-08-01'}
        """
        return {"children": [{"order": c.order, "name": c.name, "fee": c.fee} for c in self.children],
                "total": self.total, "parameters_valid_from": self.parameters_valid_from.isoformat()}

    def explain(self) -> str:
        """The decision as plain text, one step a line."""
        out = [f"{ln.step}: {ln.text} = {ln.figure} ({ln.reference})" for ln in self.lines]
        for child in self.children:
            out.append(f"child {child.order} ({child.name}):")
            out.extend(f"  {ln.step}: {ln.text} = {ln.figure} ({ln.reference})" for ln in child.lines)
        out.append(f"total: {self.total} €/month")
        return "\n".join(out)


def _value_text(value: object) -> str:
    """A parameter value as one readable string (limits by family size, hour tiers, rates).

    >>> _value_text({2: Decimal(4066), 3: Decimal(5245)})
    '2: 4066, 3: 5245'
    >>> _value_text([HourTier(over_hours_per_day=Decimal(7), rate=Decimal("1.00"))])
    '> 7 h/day: 100 %'
    """
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    if isinstance(value, list):
        parts = []
        for item in value:
            if isinstance(item, HourTier):
                parts.append(f"> {item.over_hours_per_day} h/day: {_pct(item.rate)}")
            elif isinstance(item, ExcludedIncome):
                parts.append(item.label)
            else:
                parts.append(str(item))
        return "; ".join(parts)
    return str(value)


def _eur(amount: Decimal | int) -> str:
    return f"{amount} €"


def _pct(rate: Decimal) -> str:
    return f"{(rate * 100).normalize():f} %"


class _Reader:
    """Reads parameters in force on one date and remembers the latest start date used."""

    def __init__(self, on: date) -> None:
        self.on = on
        self.starts: list[date] = []
        self.used: dict[str, UsedParameter] = {}

    def get(self, param: Parameter[T], name: str) -> InForce[T]:
        found = param.at(name, self.on)
        self.starts.append(found.valid_from)
        self.used.setdefault(name, UsedParameter(name=name, value=_value_text(found.value),
                                                 valid_from=found.valid_from, reference=found.reference))
        return found


def _income_basis(family: FeeFamily) -> IncomeBasis:
    if family.accepts_maximum_fee:
        return "maximum_fee_accepted"
    if not family.incomes:
        return "income_not_reported"
    statuses = {item.status for item in family.incomes}
    if "refused" in statuses:
        return "income_refused"
    if "missing" in statuses:
        return "income_missing"
    return "income"


_BASIS_TEXT: dict[IncomeBasis, str] = {
    "maximum_fee_accepted": "the family accepted the maximum fee without an income statement",
    "income_not_reported": "no income reported",
    "income_refused": "an income item was refused (not given or no consent to check it)",
    "income_missing": "an income item is missing",
}


def _counted_income(family: FeeFamily, params: FeeParameters, read: _Reader, lines: list[FeeLine]) -> Decimal:
    excluded = read.get(params.municipal.excluded_income, "excluded_income")
    excluded_codes = {e.income_type for e in excluded.value if e.income_type is not None}
    total = Decimal(0)
    for item in family.incomes:
        if item.income_type not in params.income_types:
            raise FeeCalculationError(f"unknown income_type '{item.income_type}' for {item.person} "
                                      f"(known: {', '.join(sorted(params.income_types))})")
        assert item.amount_per_month is not None  # status is "known" for every item here
        if item.income_type in excluded_codes:
            lines.append(FeeLine(step="income", text=f"{item.person} {item.income_type} not counted",
                                 figure=_eur(item.amount_per_month), reference=excluded.reference))
            continue
        total += item.amount_per_month
        lines.append(FeeLine(step="income", text=f"{item.person} {item.income_type}",
                             figure=_eur(item.amount_per_month), reference=f"{LAW} § 11"))
    lines.append(FeeLine(step="income", text="counted income per month", figure=_eur(total),
                         reference=f"{LAW} § 11"))
    return total


def _income_limit(size: int, params: FeeParameters, read: _Reader, lines: list[FeeLine]) -> Decimal:
    limits = read.get(params.law.income_limits, "income_limits")
    limit = limits.value[min(size, 6)]
    if size <= 6:
        lines.append(FeeLine(step="income limit", text=f"family of {size}", figure=_eur(limit),
                             reference=f"{LAW} § 5(2); {limits.reference}"))
        return limit
    inc = read.get(params.law.income_limit_increment, "income_limit_increment")
    limit += inc.value * (size - 6)
    lines.append(FeeLine(step="income limit",
                         text=f"family of 6 {_eur(limits.value[6])} + {size - 6} × {_eur(inc.value)}",
                         figure=_eur(limit), reference=f"{LAW} § 5(3); {inc.reference}"))
    return limit


def _tier_label(tiers: list[HourTier], index: int) -> str:
    """``> 7 h/day``, ``5–7 h/day`` or ``≤ 5 h/day`` for the tier at ``index``.

    >>> tiers = [HourTier(over_hours_per_day=Decimal(b), rate=Decimal(1)) for b in (7, 5, 0)]
    >>> [_tier_label(tiers, i) for i in range(3)]
    ['> 7 h/day', '5–7 h/day', '≤ 5 h/day']
    """
    low = tiers[index].over_hours_per_day
    if index == 0:
        return f"> {low} h/day"
    high = tiers[index - 1].over_hours_per_day
    return f"≤ {high} h/day" if low == 0 else f"{low}–{high} h/day"


def _child_fee(child: FeeChild, order: int, full_time: int, params: FeeParameters, read: _Reader) -> ChildFee:
    law, town = params.law, params.municipal
    lines: list[FeeLine] = []
    if order == 1:
        fee = full_time
        lines.append(FeeLine(step="sibling", text="youngest child in ECEC pays the full-time fee",
                             figure=_eur(fee), reference=f"{LAW} § 8"))
    else:
        rate = (read.get(law.sibling_rate_second, "sibling_rate_second") if order == 2
                else read.get(law.sibling_rate_further, "sibling_rate_further"))
        fee = round_half_up(full_time * rate.value)
        lines.append(FeeLine(step="sibling",
                             text=f"child {order} by age: {_pct(rate.value)} × the youngest child's full-time fee "
                                  f"{_eur(full_time)} = {full_time * rate.value}, rounded half up",
                             figure=_eur(fee), reference=f"{LAW} § 8; {rate.reference}"))
    hours = child.hours_per_day
    if child.free_hours is not None:
        param = town.free_hours_per_day.get(child.free_hours)
        if param is None:
            raise FeeCalculationError(f"{town.municipality} has no free hours for '{child.free_hours}'")
        if param.entry_on(read.on) is None:
            lines.append(FeeLine(step="free hours", text=f"no free hours for {child.free_hours} in force",
                                 figure="0 h/day", reference=param.description))
        else:
            free = read.get(param, f"free_hours_per_day.{child.free_hours}")
            hours = max(Decimal(0), hours - free.value)
            lines.append(FeeLine(step="free hours",
                                 text=f"{child.free_hours}: {child.hours_per_day} h − {free.value} h",
                                 figure=f"{hours} h/day", reference=free.reference))
    if hours == 0:
        fee = 0
        lines.append(FeeLine(step="hours", text="every hour of care is free", figure=_eur(0),
                             reference=f"{LAW} § 6"))
    else:
        tiers = read.get(town.hour_tiers, "hour_tiers")
        index = next(i for i, t in enumerate(tiers.value) if hours > t.over_hours_per_day)
        share = tiers.value[index].rate
        before, fee = fee, round_half_up(fee * share)
        lines.append(FeeLine(step="hours",
                             text=f"{hours} h/day is in the tier {_tier_label(tiers.value, index)}: "
                                  f"{_pct(share)} × {_eur(before)} = {before * share}, rounded half up",
                             figure=_eur(fee), reference=tiers.reference))
    minimum = read.get(law.min_fee, "min_fee")
    if 0 < fee < minimum.value:
        lines.append(FeeLine(step="minimum",
                             text=f"{_eur(fee)} is below the minimum {_eur(minimum.value)}: not charged",
                             figure=_eur(0), reference=f"{LAW} § 7(2); {minimum.reference}"))
        fee = 0
    return ChildFee(order=order, name=child.name, fee=fee, lines=lines)


def calculate_fees(family: FeeFamily, on: date, parameters: FeeParameters) -> FeeDecision:
    """The monthly fee of each child in ECEC on ``on``, youngest first, with the steps explained.

    Raises :class:`~ennakoiva.domain.fees.parameters.MissingFeeParameterError` when a parameter the
    calculation needs has no value on ``on`` (never an older value instead).

    >>> from ennakoiva.domain.fees.family import FeeChild, IncomeItem
    >>> from ennakoiva.domain.fees.parameters import load_fee_parameters
    >>> fam = FeeFamily(adults=2, minor_children=1,
    ...     children=[FeeChild(name="a", birth_date=date(2021, 5, 1), hours_per_day=Decimal(8))],
    ...     incomes=[IncomeItem(person="p1", income_type="wages", amount_per_month=Decimal(6000))])
    >>> calculate_fees(fam, date(2025, 3, 1), load_fee_parameters()).total
    81
    """
    read = _Reader(on)
    law = parameters.law
    lines = [FeeLine(step="family size", text=f"{family.adults} adult(s) + {family.minor_children} minor child(ren)",
                     figure=str(family.size), reference=f"{LAW} § 5")]
    max_fee = read.get(law.max_fee, "max_fee")
    basis = _income_basis(family)
    counted: Decimal | None = None
    limit: Decimal | None = None
    if basis != "income":
        full_time = round_half_up(max_fee.value)
        lines.append(FeeLine(step="income", text=f"{_BASIS_TEXT[basis]}: the maximum fee",
                             figure=_eur(full_time), reference=f"{LAW} § 7; {max_fee.reference}"))
    else:
        counted = _counted_income(family, parameters, read, lines)
        limit = _income_limit(family.size, parameters, read, lines)
        pct = read.get(law.percentage, "percentage")
        above = max(Decimal(0), counted - limit)
        full_time = round_half_up(pct.value * above)
        lines.append(FeeLine(step="full-time fee",
                             text=f"{_pct(pct.value)} × ({_eur(counted)} − {_eur(limit)}) = {pct.value * above}, "
                                  "rounded half up",
                             figure=_eur(full_time), reference=f"{LAW} § 5(1); {pct.reference}"))
        if full_time > max_fee.value:
            full_time = round_half_up(max_fee.value)
            lines.append(FeeLine(step="maximum", text="capped at the maximum fee", figure=_eur(full_time),
                                 reference=f"{LAW} § 7(1); {max_fee.reference}"))
    ordered = sorted(family.children, key=lambda c: (-c.birth_date.toordinal(), c.name))
    children = [_child_fee(child, i, full_time, parameters, read) for i, child in enumerate(ordered, start=1)]
    return FeeDecision(on=on, municipality=parameters.municipal.municipality, family_size=family.size,
                       income_basis=basis, counted_income=counted, income_limit=limit, full_time_fee=full_time,
                       children=children, total=sum(c.fee for c in children), lines=lines,
                       parameters_valid_from=max(read.starts), parameters_used=list(read.used.values()))
