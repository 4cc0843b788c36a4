"""Social sector: family services and child welfare follow the planted precursors, honestly and in order.

Built from the generators for every third postal area of a 650 000-resident city (~37 000 children).
The traits other sectors would provide (latent depression, alcohol disorder, long-term unemployment,
emergency visits, the income table) are faked here with realistic rates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from ennakoiva.adapters.engine import arrow_schema
from ennakoiva.adapters.synth import social
from ennakoiva.adapters.synth.calibration import load_calibration, load_params, window_start_for
from ennakoiva.adapters.synth.city import DEFAULT_AS_OF
from ennakoiva.adapters.synth.frame import ACTIVITIES, NO_DATE, AreaPeople, SectorContext, date32, day
from ennakoiva.adapters.synth.population import area_language_shares, generate_area_population
from ennakoiva.adapters.synth.sampling import allocate
from ennakoiva.adapters.synth.services import generate_city
from ennakoiva.domain.registry import default_registry

AS_OF = date(2026, 11, 1)
YEAR = 365.25
TABLES = ("family_service", "child_welfare_notification", "child_welfare_client")
LOW_INCOME_EUR = 19_000          # params social.low_income.threshold_eur_per_year


def fake_other_sectors(p: AreaPeople, as_of: int, rng: np.random.Generator) -> pa.Table:
    """Latent traits as the health and employment sectors would leave them, and an income table."""
    adult = p.education >= 0
    act = p.activity
    outside = np.isin(act, [ACTIVITIES.index("unemployed"), ACTIVITIES.index("other")])
    p.latent["depression"] = adult & (rng.random(p.n) < 0.08 * np.where(outside, 1.8, 1.0))
    p.latent["alcohol"] = adult & (rng.random(p.n) < 0.03 * np.where(p.female, 1.0, 2.0))
    p.latent["long_unemployed"] = (act == ACTIVITIES.index("unemployed")) & (rng.random(p.n) < 0.45)
    rate = 0.3 * (1 + 3 * p.latent["alcohol"]) * rng.gamma(0.4, 1 / 0.4, p.n)
    p.latent["emergency_visits_12m"] = rng.poisson(rate)
    # 14 monthly incomes per adult (two before the 12-month look-back, which must be ignored)
    monthly = np.select([act == ACTIVITIES.index("employed"), act == ACTIVITIES.index("pensioner"),
                         act == ACTIVITIES.index("unemployed"), act == ACTIVITIES.index("student")],
                        [3300.0, 1900.0, 950.0, 300.0], 550.0) * rng.lognormal(0, 0.35, p.n)
    who = np.flatnonzero(adult & (p.death == NO_DATE) & (p.move_out == NO_DATE))
    first = np.datetime64(AS_OF, "M") - 14
    months = (first + np.arange(14)).astype("datetime64[D]").astype(np.int64)
    pid = np.repeat(p.person_id[who], 14)
    amount = np.repeat(monthly[who], 14)
    amount[np.tile(np.arange(14) < 2, len(who))] *= 50.0      # outside the look-back: would hide low income
    return pa.table({"person_id": pid, "month": date32(np.tile(months, len(who))),
                     "income_type": pa.array(np.full(len(pid), "wages", dtype=object), pa.string()),
                     "amount_eur": amount})


@dataclass
class World:
    people: list[AreaPeople]
    tables: dict[str, pa.Table]
    truth: pa.Table
    incomes: list[pa.Table]
    window_start: int
    as_of: int


def build(seed: int, areas: slice = slice(None, None, 3), *, fake: bool = True) -> World:
    cal, params = load_calibration(), load_params()
    per_area = allocate(650_000, cal.inhabitants.astype(np.float64))
    city, _ = generate_city(cal, per_area.astype(np.float64), params, np.random.default_rng([seed, 0]))
    shares, _ = area_language_shares(cal, params)
    ws, ao = day(window_start_for(DEFAULT_AS_OF, params)), day(AS_OF)
    people, parts, truths, incomes = [], [], [], []
    for area in list(range(cal.n_areas))[areas]:
        if per_area[area] == 0:
            continue
        p = generate_area_population(area, int(per_area[area]), cal, params, shares, ws, ao,
                                     np.random.default_rng([seed, 1, area]))
        outputs = {"income": fake_other_sectors(p, ao, np.random.default_rng([seed, 5, area]))} if fake else {}
        ctx = SectorContext(people=p, city=city, params=params, window_start=ws, as_of=ao,
                            rng=np.random.default_rng([seed, 11, area]), outputs=outputs)
        out = social.generate(ctx)
        people.append(p)
        parts.append(out.tables)
        truths.append(out.truth["truth_child_welfare"])
        incomes.append(outputs.get("income"))
    tables = {name: pa.concat_tables([t[name] for t in parts]) for name in TABLES}
    return World(people, tables, pa.concat_tables(truths), incomes, ws, ao)


@pytest.fixture(scope="module")
def world() -> World:
    return build(seed=5)


def days(col: pa.ChunkedArray, missing: int = NO_DATE) -> np.ndarray:
    return col.cast(pa.int32()).fill_null(missing).to_numpy().astype(np.int64)


def col(t: pa.Table, name: str) -> np.ndarray:
    return t[name].to_numpy()


def child_facts(w: World) -> dict[str, np.ndarray]:
    """Birth and entry (window start, birth or move-in) per truth row."""
    pid = np.concatenate([p.person_id for p in w.people])
    birth = np.concatenate([p.birth for p in w.people]).astype(np.int64)
    move_in = np.concatenate([p.move_in for p in w.people]).astype(np.int64)
    order = np.argsort(pid)
    pos = order[np.searchsorted(pid, col(w.truth, "person_id"), sorter=order)]
    entry = np.maximum(np.maximum(birth[pos], move_in[pos]), w.window_start)
    return {"birth": birth[pos], "entry": entry}


def lookup(w: World, person_id: np.ndarray) -> np.ndarray:
    """Row of each person in the truth table."""
    truth_pid = col(w.truth, "person_id")
    order = np.argsort(truth_pid)
    pos = order[np.searchsorted(truth_pid, person_id, sorter=order)]
    assert (truth_pid[pos] == person_id).all(), "every record concerns a child of the truth table"
    return pos


def test_schemas_match_the_registry_and_codes_are_valid(world: World) -> None:
    reg = default_registry()
    for name in TABLES:
        expected = arrow_schema(reg.table(name))
        table = world.tables[name]
        assert table.schema.names == expected.names, name
        assert [f.type for f in table.schema] == [f.type for f in expected], name
        table.cast(expected)
        key = expected.names[0]
        assert len(np.unique(col(table, key))) == table.num_rows > 100, name
    services = set(world.tables["family_service"]["service_type"].to_pylist())
    assert services == set(reg.code_systems["family_service_type"].values or {})
    sources = set(world.tables["child_welfare_notification"]["source"].to_pylist())
    assert sources == set(reg.code_systems["cw_source"].values or {})


def test_truth_table_has_one_row_per_child_with_honest_counts(world: World) -> None:
    t = world.truth
    assert t.schema.names == ["person_id", *social.FACTORS, "n_factors", "p_clientship", "became_client"]
    assert all(t.schema.field(f).type == pa.bool_() for f in (*social.FACTORS, "became_client"))
    assert t.schema.field("person_id").type == pa.int64()
    children = sum(int(p.is_child.sum()) for p in world.people)
    assert t.num_rows == children == len(np.unique(col(t, "person_id")))
    flags = np.stack([col(t, f) for f in social.FACTORS], axis=1)
    assert (flags.sum(axis=1) == col(t, "n_factors")).all()
    p = col(t, "p_clientship")
    assert (p >= 0).all() and (p <= 1).all()
    clients = set(col(world.tables["child_welfare_client"], "person_id").tolist())
    assert clients == set(col(t, "person_id")[col(t, "became_client")].tolist())
    for f in social.FACTORS:                         # every precursor occurs, none is near-universal
        assert 0.02 < col(t, f).mean() < 0.4, f


def test_flags_are_what_the_tables_and_traits_show(world: World) -> None:
    truth_rows = []
    for p, income in zip(world.people, world.incomes, strict=True):
        kids = np.flatnonzero(p.is_child)
        g, c = p.guardian_pairs[:, 0], p.guardian_pairs[:, 1]

        def any_guardian(flag: np.ndarray, p: AreaPeople = p, g: np.ndarray = g, c: np.ndarray = c,
                         kids: np.ndarray = kids) -> np.ndarray:
            return (np.bincount(c, weights=flag[g], minlength=p.n) > 0)[kids]

        visits = p.latent["emergency_visits_12m"] >= 3
        # household income of the last 12 months from the income table, OECD modified scale
        rows = income.filter(pc.greater_equal(income["month"].cast(pa.int32()), world.as_of - 365))
        order = np.argsort(p.person_id)
        who = order[np.searchsorted(p.person_id, col(rows, "person_id"), sorter=order)]
        per_person = np.bincount(who, weights=col(rows, "amount_eur"), minlength=p.n)
        current = (p.death == NO_DATE) & (p.move_out == NO_DATE)
        age = (world.as_of - p.birth) / YEAR
        hh_income = np.bincount(p.household, weights=per_person * current)
        units = np.bincount(p.household, weights=np.where(age >= 14, 0.5, 0.3) * current) + 0.5
        low = (hh_income / units < LOW_INCOME_EUR)[p.household[kids]]
        truth_rows.append(np.stack([
            any_guardian(p.latent["depression"]), any_guardian(p.latent["alcohol"]),
            any_guardian(p.latent["long_unemployed"]), p.household_type[p.household[kids]] == "single_parent",
            low, visits[kids] | any_guardian(visits), p.move_in[kids] != NO_DATE], axis=1))
    expected = np.concatenate(truth_rows)
    got = np.stack([col(world.truth, f) for f in social.FACTORS[:7]], axis=1)
    for i, f in enumerate(social.FACTORS[:7]):
        assert (expected[:, i] == got[:, i]).all(), f
    served = set(col(world.tables["family_service"], "person_id").tolist())
    assert (np.isin(col(world.truth, "person_id"), list(served)) == col(world.truth, "family_service")).all()


def test_several_factors_together_raise_the_risk_a_lot_one_alone_only_slightly(world: World) -> None:
    n, p = col(world.truth, "n_factors"), col(world.truth, "p_clientship")
    became = col(world.truth, "became_client")
    none, one, many = n == 0, n == 1, n >= 3
    assert min(none.sum(), one.sum(), many.sum()) > 1000
    # the true probabilities (truth file) ...
    assert p[many].mean() > 5 * p[one].mean()
    assert p[one].mean() < 1.4 * p[none].mean()
    for f in social.FACTORS:                         # any single factor alone: at most ~1.4x the baseline
        alone = one & col(world.truth, f)
        assert p[alone].mean() < 1.4 * p[none].mean(), f
    # ... and what an analyst sees in the outcome
    assert became[many].mean() > 4 * became[one].mean()
    assert became[one].mean() < 1.6 * became[none].mean()


def test_prevalence_is_realistic(world: World) -> None:
    became = col(world.truth, "became_client")
    years = (world.as_of - world.window_start) / YEAR
    assert 0.009 < became.mean() / years < 0.02      # ~1-1.5 % of children become new clients a year
    assert 0.035 < became.mean() < 0.08              # ~5-7 % with a client-ship during the window
    notified = len(np.unique(col(world.tables["child_welfare_notification"], "person_id")))
    assert 0.05 < notified / world.truth.num_rows / years < 0.12   # ~8 % of children a year


def test_notifications_and_family_services_precede_client_ship(world: World) -> None:
    facts = child_facts(world)
    clients = world.tables["child_welfare_client"]
    c_row = lookup(world, col(clients, "person_id"))
    c_start, c_end = days(clients["start_date"]), days(clients["end_date"])
    notes = world.tables["child_welfare_notification"]
    n_row, n_day = lookup(world, col(notes, "person_id")), days(notes["notification_date"])
    first_note = np.full(world.truth.num_rows, 10**7)
    np.minimum.at(first_note, n_row, n_day)
    assert (first_note[c_row] <= c_start).all()
    # the notification that opened the assessment came at most three weeks before the client-ship
    latest_before = np.full(world.truth.num_rows, -(10**7))
    opened = np.isin(n_row, c_row)
    start_of = np.full(world.truth.num_rows, 10**7)
    start_of[c_row] = c_start
    before = opened & (n_day <= start_of[n_row])
    np.maximum.at(latest_before, n_row[before], n_day[before])
    assert (c_start - latest_before[c_row] <= 21).all()
    services = world.tables["family_service"]
    s_row, s_day = lookup(world, col(services, "person_id")), days(services["start_date"])
    first_service = np.full(world.truth.num_rows, 10**7)
    np.minimum.at(first_service, s_row, s_day)
    served = col(world.truth, "family_service")[c_row]
    assert (c_start[served] > first_service[c_row][served]).all()
    # inside the child's life and residence, and the window
    assert (c_start >= facts["entry"][c_row]).all() and (c_start <= world.as_of).all()
    assert ((c_end == NO_DATE) | ((c_end >= c_start) & (c_end <= world.as_of))).all()
    assert (n_day >= facts["entry"][n_row]).all() and (n_day <= world.as_of).all()
    assert (s_day >= facts["birth"][s_row]).all() and (s_day >= world.window_start).all()
    assert (s_day <= world.as_of).all()


def test_notification_sources_fit_the_childs_age(world: World) -> None:
    facts = child_facts(world)
    notes = world.tables["child_welfare_notification"]
    row, when = lookup(world, col(notes, "person_id")), days(notes["notification_date"])
    age = (when - facts["birth"][row]) / YEAR
    source = np.asarray(notes["source"].to_pylist())
    assert age[source == "school"].min() >= 6.5
    assert age[source == "daycare"].max() < 7
    shares = {s: (source == s).mean() for s in set(source.tolist())}
    assert max(shares, key=shares.__getitem__) == "police"


def test_same_seed_gives_identical_tables_and_the_fallbacks_work() -> None:
    one = build(seed=21, areas=slice(0, 8))
    two = build(seed=21, areas=slice(0, 8))
    for name in TABLES:
        assert one.tables[name].equals(two.tables[name]), name
    assert one.truth.equals(two.truth)
    # without the other sectors the precursors are derived from the register and still occur
    bare = build(seed=21, areas=slice(0, 8), fake=False)
    for f in social.FACTORS:
        assert col(bare.truth, f).any(), f
    assert col(bare.truth, "became_client").any()
