"""Early-childhood education sector: placements fit the registry, the children's lives and Helsinki's rates.

Built straight from the generators for every third postal area of a 650 000-resident city (about
220 000 residents), so the rates below are checked on some 15 000 children under seven.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa
import pytest

from ennakoiva.adapters.engine import arrow_schema
from ennakoiva.adapters.synth import ecec
from ennakoiva.adapters.synth.calibration import load_calibration, load_params, window_start_for
from ennakoiva.adapters.synth.city import DEFAULT_AS_OF
from ennakoiva.adapters.synth.frame import NO_DATE, AreaPeople, CityFrame, SectorContext, day
from ennakoiva.adapters.synth.population import area_language_shares, generate_area_population
from ennakoiva.adapters.synth.sampling import allocate
from ennakoiva.adapters.synth.services import generate_city
from ennakoiva.domain.registry import default_registry

AS_OF = date(2026, 11, 1)
YEAR = 365.25


@dataclass
class World:
    city: CityFrame
    people: list[AreaPeople]
    table: pa.Table
    window_start: int
    as_of: int
    residents: int
    # per placement, facts of its child
    birth: np.ndarray
    move_in: np.ndarray
    until: np.ndarray
    tongue: np.ndarray


def build(seed: int, areas: slice = slice(None, None, 3)) -> tuple[CityFrame, list[AreaPeople], pa.Table, int, int]:
    cal, params = load_calibration(), load_params()
    per_area = allocate(650_000, cal.inhabitants.astype(np.float64))
    city, _ = generate_city(cal, per_area.astype(np.float64), params, np.random.default_rng([seed, 0]))
    shares, _ = area_language_shares(cal, params)
    ws, ao = day(window_start_for(DEFAULT_AS_OF, params)), day(AS_OF)
    people, parts = [], []
    for area in list(range(cal.n_areas))[areas]:
        if per_area[area] == 0:
            continue
        p = generate_area_population(area, int(per_area[area]), cal, params, shares, ws, ao,
                                     np.random.default_rng([seed, 1, area]))
        ctx = SectorContext(people=p, city=city, params=params, window_start=ws, as_of=ao,
                            rng=np.random.default_rng([seed, 10, area]), outputs={})
        people.append(p)
        parts.append(ecec.generate(ctx).tables["ecec_placement"])
    return city, people, pa.concat_tables(parts), ws, ao


@pytest.fixture(scope="module")
def world() -> World:
    city, people, table, ws, ao = build(seed=3)
    pid = np.concatenate([p.person_id for p in people])
    order = np.argsort(pid)
    pos = order[np.searchsorted(pid, table["person_id"].to_numpy(), sorter=order)]
    assert (pid[pos] == table["person_id"].to_numpy()).all(), "every placement is of a known person"

    def cat(name: str) -> np.ndarray:
        return np.concatenate([getattr(p, name) for p in people])

    until = np.concatenate([p.present_until() for p in people])
    residents = int(sum(((p.death == NO_DATE) & (p.move_out == NO_DATE)).sum() for p in people))
    return World(city, people, table, ws, ao, residents, cat("birth")[pos].astype(np.int64),
                 cat("move_in")[pos].astype(np.int64), until[pos], cat("tongue")[pos])


def days(col: pa.ChunkedArray, missing: int = NO_DATE) -> np.ndarray:
    arr = col.cast(pa.int32()).fill_null(missing).to_numpy()
    return arr.astype(np.int64)


def children(w: World) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """person_id, birth, move_in and tongue of current residents."""
    cur = [(p.death == NO_DATE) & (p.move_out == NO_DATE) for p in w.people]
    return tuple(np.concatenate([getattr(p, n)[c] for p, c in zip(w.people, cur, strict=True)])  # type: ignore[return-value]
                 for n in ("person_id", "birth", "move_in", "tongue"))


def active_on(w: World, on: int, *, preschool_only_counts: bool = True) -> np.ndarray:
    """person_ids with a placement running on a day."""
    t = w.table
    s, e = days(t["start_date"]), days(t["end_date"], missing=10**7)
    on_day = (s <= on) & (e >= on)
    if not preschool_only_counts:
        pre = np.asarray(t["placement_type"].to_pylist()) == "preschool"
        on_day &= ~(pre & (t["hours_per_week"].to_numpy() <= 20))
    return np.unique(t["person_id"].to_numpy()[on_day])


def test_schema_matches_the_registry(world: World) -> None:
    spec = default_registry().table("ecec_placement")
    expected = arrow_schema(spec)
    assert world.table.schema.names == expected.names
    assert [f.type for f in world.table.schema] == [f.type for f in expected]
    world.table.cast(expected)  # non-nullable columns hold no nulls
    assert world.table.num_rows > 10_000


def test_codes_units_and_keys_are_valid(world: World) -> None:
    t, reg = world.table, default_registry()
    codes = reg.code_systems["placement_type"]
    assert all(codes.is_valid(c) for c in set(t["placement_type"].to_pylist()))
    assert set(t["placement_type"].to_pylist()) == {"daycare", "family_daycare", "preschool"}
    daycare_units = set(world.city.unit_id[world.city.unit_type == "daycare"].tolist())
    assert set(t["unit_id"].to_numpy().tolist()) <= daycare_units
    hours = t["hours_per_week"].to_numpy()
    assert hours.min() >= 1 and hours.max() <= 60
    assert len(np.unique(t["placement_id"].to_numpy())) == t.num_rows


def test_placements_lie_inside_the_childs_life_residence_and_the_window(world: World) -> None:
    t = world.table
    s, e = days(t["start_date"]), days(t["end_date"])
    open_ = e == NO_DATE
    assert (s >= world.birth).all()
    assert (s[world.move_in != NO_DATE] >= world.move_in[world.move_in != NO_DATE]).all()
    assert (s <= world.as_of).all()
    assert (open_ | (e >= s)).all()
    assert (open_ | (e >= world.window_start)).all()
    assert (open_ | (e <= world.until)).all() and (s <= world.until).all()
    assert (open_ | (e <= world.as_of)).all()
    # no child starts under 9 months, nor after the pre-primary year (ends before age 7.6)
    age_at_start = (s - world.birth) / YEAR
    assert age_at_start.min() >= 0.75 and age_at_start.max() < 7.6
    # a child's placements do not overlap
    pid = t["person_id"].to_numpy()
    o = np.lexsort((s, pid))
    same = pid[o][1:] == pid[o][:-1]
    prev_end = np.where(e[o][:-1] == NO_DATE, 10**7, e[o][:-1])
    assert (s[o][1:][same] > prev_end[same]).all()


def test_participation_by_age_is_helsinki_like(world: World) -> None:
    pid, birth, _, tongue = children(world)
    inside = np.isin(pid, active_on(world, world.as_of))
    age = np.floor((world.as_of - birth) / YEAR)
    rate = {a: inside[age == a].mean() for a in range(6)}
    assert rate[0] < 0.05
    assert 0.25 < rate[1] < 0.45            # ~30-40 % of one-year-olds
    assert 0.62 < rate[2] < 0.85            # ~70-75 % of two-year-olds
    three_to_five = inside[(age >= 3) & (age <= 5)].mean()
    assert 0.85 < three_to_five < 0.97      # ~90 % of 3-5-year-olds
    foreign = (tongue != "fi") & (tongue != "sv")
    young = (age >= 1) & (age <= 2)
    assert inside[young & foreign].mean() < inside[young & ~foreign].mean() - 0.08


def test_total_participation_is_consistent_with_statfin_14jt(world: World) -> None:
    # 14jt (KU091, 2024): 30 870 children in ECEC in Helsinki, 663 237 residents (Paavo 2023). The
    # synthetic city has only municipal ECEC (no private units or children from other municipalities),
    # so it lands somewhat below: ~0.88 of the scaled figure.
    count = len(active_on(world, world.as_of, preschool_only_counts=False))
    expected = 30_870 * world.residents / 663_237
    assert 0.78 < count / expected < 1.02, count / expected


def test_next_years_six_year_olds_have_no_preschool_but_earlier_cohorts_do(world: World) -> None:
    t = world.table
    pre = np.asarray(t["placement_type"].to_pylist()) == "preschool"
    with_pre = set(t["person_id"].to_numpy()[pre].tolist())
    pid, birth, move_in, _ = children(world)
    born = birth.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
    target = born == AS_OF.year + 1 - 6
    assert not with_pre & set(pid[target].tolist())
    # the campaign's target group: one birth year, ~1/110 of residents in Helsinki's age structure
    # (Paavo 2023: 24 042 aged 3-6 of 663 237), within 1/140 .. 1/80
    assert 1 / 140 < target.sum() / world.residents < 1 / 80
    # every cohort whose pre-primary year began in the window or before it and still overlaps it:
    # nearly all children who lived here when it began have a placement
    for year in range(AS_OF.year - 10, AS_OF.year - 5):
        start = day(date(year + 6, 8, 10))
        cohort = (born == year) & ((move_in == NO_DATE) | (move_in <= start))
        if start + 355 < world.window_start:
            assert not with_pre & set(pid[cohort].tolist())
            continue
        share = np.isin(pid[cohort], list(with_pre)).mean()
        assert share > 0.95, (year, share)
    s, e = days(t["start_date"]), days(t["end_date"])
    stayed = pre & (world.move_in == NO_DATE)

    def month_day(d: np.ndarray) -> set[str]:
        return {x[5:] for x in d.astype("datetime64[D]").astype(str).tolist()}

    assert month_day(s[stayed]) == {"08-10"}                         # mid-August
    assert month_day(e[pre & (e != NO_DATE)]) <= {"05-31", "07-31"}  # end of May, or July with ECEC


def test_swedish_speakers_mostly_attend_swedish_units(world: World) -> None:
    lang = dict(zip(world.city.unit_id.tolist(), world.city.unit_languages.tolist(), strict=True))
    unit_lang = np.array([lang[u] for u in world.table["unit_id"].to_numpy().tolist()])
    sv = world.tongue == "sv"
    assert sv.sum() > 200
    assert (unit_lang[sv] == "sv").mean() > 0.85
    assert (unit_lang[world.tongue == "fi"] == "sv").mean() < 0.08


def test_starts_hours_and_types_are_realistic(world: World) -> None:
    t = world.table
    ptype = np.asarray(t["placement_type"].to_pylist())
    month = days(t["start_date"]).astype("datetime64[D]").astype("datetime64[M]").astype(np.int64) % 12 + 1
    ecec_rows = ptype != "preschool"
    assert np.isin(month[ecec_rows], [1, 8]).mean() > 0.6          # August and January intakes
    hours = t["hours_per_week"].to_numpy()
    assert 0.4 < (hours[ecec_rows] >= 40).mean() < 0.75            # most children full time
    assert (ptype == "family_daycare").mean() < 0.05
    assert set(hours[ptype == "preschool"].tolist()) <= {20, 30, 35, 40, 45}


def test_same_seed_gives_identical_tables() -> None:
    one = build(seed=11, areas=slice(0, 6))[2]
    two = build(seed=11, areas=slice(0, 6))[2]
    other = build(seed=12, areas=slice(0, 6))[2]
    assert one.equals(two)
    assert not one.equals(other)
