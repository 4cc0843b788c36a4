"""Property-style sweeps over incomes, family sizes, children and hours (deterministic, fast)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from ennakoiva.domain.fees import (
    FeeChild,
    FeeFamily,
    FeeParameters,
    IncomeItem,
    calculate_fees,
    load_fee_parameters,
    round_half_up,
)

DATES = [date(2023, 6, 1), date(2025, 3, 1), date(2026, 7, 31)]
INCOMES = range(0, 14_000, 97)
HOURS = [Decimal(4), Decimal(5), Decimal("6.5"), Decimal(7), Decimal(8), Decimal(10)]


@pytest.fixture(scope="module")
def params() -> FeeParameters:
    return load_fee_parameters()


def _family(income: int, *, adults: int = 2, minors: int = 1, children: int = 1,
            hours: Decimal = Decimal(8)) -> FeeFamily:
    kids = [FeeChild(name=f"c{i}", birth_date=date(2018 + i, 3, 1), hours_per_day=hours) for i in range(children)]
    return FeeFamily(adults=adults, minor_children=max(minors, children), children=kids,
                     incomes=[IncomeItem(person="p", income_type="wages", amount_per_month=Decimal(income))])


@pytest.mark.parametrize("on", DATES)
@pytest.mark.parametrize("minors", [1, 2, 4, 6])
def test_fee_bounded_and_monotone_in_income(params: FeeParameters, on: date, minors: int) -> None:
    max_fee = params.law.max_fee.at("max_fee", on).value
    for hours in HOURS:
        previous = -1
        for income in INCOMES:
            decision = calculate_fees(_family(income, minors=minors, hours=hours), on, params)
            fee = decision.total
            assert 0 <= fee <= max_fee, (income, hours, fee)
            assert decision.full_time_fee <= max_fee
            assert fee >= previous, f"fee fell from {previous} to {fee} at income {income}, {hours} h"
            previous = fee


@pytest.mark.parametrize("on", DATES)
def test_siblings_never_pay_more_than_the_youngest(params: FeeParameters, on: date) -> None:
    for children in (2, 3, 4):
        for income in INCOMES:
            decision = calculate_fees(_family(income, minors=children, children=children), on, params)
            youngest = decision.children[0]
            assert youngest.name == f"c{children - 1}"
            assert all(c.fee <= youngest.fee for c in decision.children[1:]), (income, decision.explain())
            max_fee = params.law.max_fee.at("max_fee", on).value
            assert decision.total <= max_fee * (1 + Decimal("0.4") + Decimal("0.2") * (children - 2))


@pytest.mark.parametrize("on", DATES)
def test_charged_fees_are_zero_or_at_least_the_minimum(params: FeeParameters, on: date) -> None:
    minimum = params.law.min_fee.at("min_fee", on).value
    for hours in HOURS:
        for income in INCOMES:
            for child in calculate_fees(_family(income, minors=3, children=3, hours=hours), on, params).children:
                assert child.fee == 0 or child.fee >= minimum


def test_missing_income_is_never_below_known_income(params: FeeParameters) -> None:
    on = date(2025, 3, 1)
    missing = FeeFamily(adults=2, minor_children=2,
                        children=[FeeChild(name="a", birth_date=date(2021, 1, 1), hours_per_day=Decimal(8))],
                        incomes=[IncomeItem(person="p", income_type="wages", status="missing")])
    worst = calculate_fees(missing, on, params).total
    assert all(calculate_fees(_family(i, minors=2), on, params).total <= worst for i in INCOMES)


def test_round_half_up_matches_the_published_thresholds() -> None:
    limits = {2: 4066, 3: 5245, 4: 5956, 5: 6667, 6: 7376}
    starts = {2: 4342, 3: 5521, 4: 6232, 5: 6943, 6: 7652}
    maxes = {2: 6968, 3: 8147, 4: 8858, 5: 9569, 6: 10278}
    pct = Decimal("0.107")
    for size, limit in limits.items():
        assert round_half_up(pct * (starts[size] - limit)) == 30
        assert round_half_up(pct * (starts[size] - 1 - limit)) == 29
        assert round_half_up(pct * (maxes[size] - limit)) == 311
        assert round_half_up(pct * (maxes[size] - 1 - limit)) == 310
