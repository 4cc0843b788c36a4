"""Incomes sector: a row for every adult resident every month, coherent with spells, families, Paavo."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from ennakoiva.adapters.engine import arrow_schema
from ennakoiva.adapters.synth import employment, incomes
from ennakoiva.adapters.synth.calibration import load_calibration, load_params
from ennakoiva.adapters.synth.city import generate_area, plan_city
from ennakoiva.adapters.synth.frame import ACTIVITIES, NO_DATE, AreaPeople, day
from ennakoiva.domain.registry import default_registry

AS_OF = day(date(2026, 11, 1))
AREAS = [0, 30, 55, 75, 70]        # centre, west, north, east, and tiny Santahamina
YEAR = 365.25


@dataclass
class Area:
    people: AreaPeople
    spells: pa.Table
    income: pa.Table


def _run(residents: int, areas: list[int], seed: int) -> list[Area]:
    """Population, employment and incomes for some postal areas of a city of ``residents``."""
    plan = plan_city(residents, seed)
    result = []
    for area in areas:
        people, outputs, _ = generate_area(plan, area, ("employment", "incomes"))
        result.append(Area(people, outputs["jobseeker_spell"], outputs["income"]))
    return result


@pytest.fixture(scope="module")
def areas() -> list[Area]:
    """Five postal areas of a 120 000-resident city (about 9 000 people, 180 000 income rows)."""
    return _run(120_000, AREAS, seed=5)


@dataclass
class Grid:
    """Per area: person x month x income type amounts, and the person-month facts to check them by."""

    amount: np.ndarray       # (persons, months, types)
    adult_resident: np.ndarray
    spell_days: np.ndarray
    days: np.ndarray         # days in each month


def _grid(a: Area) -> Grid:
    p = a.people
    m_start, m_next = incomes.income_months(AS_OF, load_params()["incomes"]["months"])
    order = np.argsort(p.person_id)
    who = order[np.searchsorted(p.person_id, a.income.column("person_id").to_numpy(), sorter=order)]
    month = np.searchsorted(m_start, a.income.column("month").cast(pa.int32()).to_numpy())
    kind = np.searchsorted(np.array(incomes.INCOME_TYPES), np.array(a.income.column("income_type").to_pylist()),
                           sorter=np.argsort(incomes.INCOME_TYPES))
    kind = np.argsort(incomes.INCOME_TYPES)[kind]
    amount = np.zeros((p.n, len(m_start), len(incomes.INCOME_TYPES)))
    amount[who, month, kind] = a.income.column("amount_eur").to_numpy()
    arrived = np.where(p.move_in != NO_DATE, p.move_in, -10**6)
    resident = (arrived[:, None] < m_next[None, :]) & (p.present_until()[:, None] > m_start[None, :])
    adult = m_start[None, :] >= p.birth[:, None] + np.ceil(18 * YEAR)
    start = a.spells.column("start_date").cast(pa.int32()).to_numpy().astype(np.int64)
    end = pc.fill_null(a.spells.column("end_date").cast(pa.int32()), AS_OF).to_numpy().astype(np.int64)
    s_who = order[np.searchsorted(p.person_id, a.spells.column("person_id").to_numpy(), sorter=order)]
    spell_days = employment.days_by_month(s_who, start, end, m_start, p.n)
    return Grid(amount, resident & adult, spell_days, m_next - m_start)


def _t(name: str) -> int:
    return incomes.INCOME_TYPES.index(name)


def test_table_matches_the_registry_and_codes(areas: list[Area]) -> None:
    reg = default_registry()
    table = pa.concat_tables([a.income for a in areas])
    assert table.schema.equals(arrow_schema(reg.table("income")))
    values = reg.code_systems["income_type"].values
    assert values is not None
    assert set(pc.unique(table.column("income_type")).to_pylist()) == set(values)
    amount = table.column("amount_eur").to_numpy()
    assert (amount > 0).all()
    assert np.allclose(np.round(amount, 2), amount, rtol=0, atol=1e-9)
    months = table.column("month").cast(pa.int32()).to_numpy()
    firsts = incomes.income_months(AS_OF, 24)[0]
    assert set(np.unique(months)) == set(firsts)
    assert firsts[0] == day(date(2024, 11, 1)) and firsts[-1] == day(date(2026, 10, 1))
    key = pa.table({"p": table.column("person_id"), "m": table.column("month"), "t": table.column("income_type")})
    assert key.group_by(["p", "m", "t"]).aggregate([]).num_rows == table.num_rows


def test_every_adult_resident_has_income_every_month_and_no_one_else(areas: list[Area]) -> None:
    for a in areas:
        g = _grid(a)
        has = (g.amount > 0).any(axis=2)
        assert has[g.adult_resident].all()
        assert not has[~g.adult_resident].any()
        rows_per_cell = (g.amount > 0).sum(axis=2)[g.adult_resident].mean()
        assert 1.1 < rows_per_cell < 1.8


def test_no_wages_in_months_spent_wholly_unemployed(areas: list[Area]) -> None:
    n_full = 0
    for a in areas:
        g = _grid(a)
        full = g.adult_resident & (g.spell_days >= g.days[None, :])
        n_full += full.sum()
        assert not (g.amount[..., _t("wages")] > 0)[full].any()
        benefit = g.amount[..., _t("unemployment_benefit")] > 0
        assert (benefit | (g.amount[..., _t("parental_allowance")] > 0))[full].all()
        assert not benefit[g.spell_days == 0].any()
        partial = g.adult_resident & (g.spell_days > 0) & (g.spell_days < g.days[None, :] - 5)
        assert (g.amount[..., _t("wages")] > 0)[partial].mean() > 0.8
    assert n_full > 1000


def test_items_follow_status_and_family(areas: list[Area]) -> None:
    for a in areas:
        p, g = a.people, _grid(a)
        current_adult = g.adult_resident[:, -1] & (p.present_until() > AS_OF)
        pensioner = current_adult & (p.activity == ACTIVITIES.index("pensioner"))
        assert (g.amount[pensioner, -1, _t("pension")] > 0).all()
        assert not (g.amount[~(p.activity == ACTIVITIES.index("pensioner")), :, _t("pension")] > 0).any()
        student = p.activity == ACTIVITIES.index("student")
        assert not (g.amount[~student, :, _t("student_grant")] > 0).any()
        assert (g.amount[student & current_adult, -1, _t("student_grant")] > 0).mean() > 0.8
        # one child-benefit recipient per household and month, a guardian living with children under 17
        cb = g.amount[..., _t("child_benefit")] > 0
        guardians = np.unique(p.guardian_pairs[:, 0])
        assert np.isin(np.flatnonzero(cb.any(axis=1)), guardians).all()
        for m in range(cb.shape[1]):
            hh = p.household[cb[:, m]]
            assert len(np.unique(hh)) == len(hh)
        # parental allowance only for guardians of a child born at most a year before the month
        pa_who = np.flatnonzero((g.amount[..., _t("parental_allowance")] > 0).any(axis=1))
        assert np.isin(pa_who, guardians).all()
        assert len(pa_who) > 0 or p.n < 500
        youngest = np.full(p.n, -10**6)
        np.maximum.at(youngest, p.guardian_pairs[:, 0], p.birth[p.guardian_pairs[:, 1]])
        m_start, _ = incomes.income_months(AS_OF, 24)
        on_leave = np.argwhere(g.amount[..., _t("parental_allowance")] > 0)
        assert ((m_start[on_leave[:, 1]] - youngest[on_leave[:, 0]]) < 400).all()
        # low-income benefits reach someone, but not most
        for name, share in (("housing_allowance", 0.35), ("social_assistance", 0.15)):
            got = (g.amount[..., _t(name)] > 0).any(axis=1)[current_adult].mean()
            assert got < share, name
            assert got > 0.01 or p.n < 500, name


def test_wages_are_persistent_with_a_holiday_bonus(areas: list[Area]) -> None:
    m_start, _ = incomes.income_months(AS_OF, 24)
    moy = m_start.astype("datetime64[D]").astype("datetime64[M]").astype(int) % 12 + 1
    for a in areas[:3]:
        g = _grid(a)
        w = g.amount[..., _t("wages")]
        steady = (w > 0).all(axis=1) & (g.spell_days.sum(axis=1) == 0) & (g.amount[..., _t("sickness_allowance")]
                                                                          == 0).all(axis=1)
        assert steady.sum() > 200
        regular = w[steady][:, ~np.isin(moy, [6, 7])]
        assert np.median(regular.std(axis=1) / regular.mean(axis=1)) < 0.06
        bonus = w[steady][:, np.isin(moy, [6, 7])].mean() / regular.mean()
        assert 1.2 < bonus < 1.4
        annual = w[steady][:, -12:].sum(axis=1) / (12 * np.median(regular, axis=1))
        assert np.median(annual) == pytest.approx(1.05, abs=0.02)


def test_median_income_is_calibrated_to_paavo(areas: list[Area]) -> None:
    cal, prm = load_calibration(), load_params()["incomes"]
    for a in areas:
        p = a.people
        if p.n < 500:                  # Santahamina: too few people for a median
            continue
        current_adult = (p.present_until() > AS_OF) & (p.age_on(AS_OF) >= 18) & (p.birth < AS_OF - 19 * YEAR)
        g = _grid(a)
        taxable = g.amount[:, -12:, : len(incomes.TAXABLE)].sum(axis=(1, 2))
        years = (2026 - 0.5 - 2 / 12) - prm["calibration_year"] - 0.5      # mid-point of Nov 2025..Oct 2026
        target = cal.median_income[p.area] * (1 + prm["growth_per_year"]) ** years
        assert np.median(taxable[current_adult]) == pytest.approx(target, rel=0.05), cal.postal_code[p.area]
        assert p.latent["gross_income_12m"].shape == (p.n,)
        np.testing.assert_allclose(p.latent["gross_income_12m"], taxable, atol=0.05 * 12 * 6)


def test_same_seed_same_rows() -> None:
    one, two = _run(20_000, [9], seed=9), _run(20_000, [9], seed=9)
    assert one[0].income.num_rows > 1000
    assert one[0].income.equals(two[0].income)
    assert not _run(20_000, [9], seed=10)[0].income.equals(one[0].income)


def test_an_area_without_people_gives_empty_tables() -> None:
    empty = _run(20_000, [12], seed=9)[0]        # 00230 has no residents in Paavo
    assert empty.people.n == 0
    assert empty.income.num_rows == 0 and empty.spells.num_rows == 0
    assert empty.income.schema.equals(arrow_schema(default_registry().table("income")))
    assert empty.spells.schema.equals(arrow_schema(default_registry().table("jobseeker_spell")))
