"""Employment sector: coherent spells, confounded services, planted effects that can be recovered."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from ennakoiva.adapters.engine import arrow_schema
from ennakoiva.adapters.synth import employment
from ennakoiva.adapters.synth.calibration import load_params, window_start_for
from ennakoiva.adapters.synth.city import DEFAULT_AS_OF, generate_area, plan_city
from ennakoiva.adapters.synth.employment import FOLLOW_UP_DAYS, SERVICES
from ennakoiva.adapters.synth.frame import ACTIVITIES, NO_DATE, AreaPeople, SectorOutput, day
from ennakoiva.domain.registry import default_registry

AS_OF = day(date(2026, 11, 1))
TABLES = ("jobseeker_spell", "jobseeker_background", "employment_service")


@dataclass
class Area:
    people: AreaPeople
    out: SectorOutput


def _run(residents: int, areas: list[int] | None, seed: int) -> list[Area]:
    """Population and employment sector for some postal areas of a city of ``residents``."""
    plan = plan_city(residents, seed)
    result = []
    for area in areas if areas is not None else range(plan.cal.n_areas):
        if plan.per_area[area] == 0:
            continue
        people, outputs, truth = generate_area(plan, area, ("employment",))
        result.append(Area(people, SectorOutput(tables={t: outputs[t] for t in TABLES}, truth=truth)))
    return result


def _concat(areas: list[Area], name: str, truth: bool = False) -> pa.Table:
    return pa.concat_tables([(a.out.truth if truth else a.out.tables)[name] for a in areas])


@pytest.fixture(scope="module")
def small() -> list[Area]:
    """Four postal areas (centre, east, west, north) of a 100 000-resident city: ~ 6 000 people."""
    return _run(100_000, [0, 30, 55, 75], seed=3)


@pytest.fixture(scope="module")
def large() -> dict[str, np.ndarray]:
    """Every area of a 160 000-resident city (~ 50 000 spells), flattened to per-spell numpy columns."""
    return _spell_columns(160_000, seed=11)


def _spell_columns(residents: int, seed: int) -> dict[str, np.ndarray]:
    areas = _run(residents, None, seed=seed)
    spell, bg, truth = (_concat(areas, "jobseeker_spell"), _concat(areas, "jobseeker_background"),
                        _concat(areas, "truth_employment_spell", truth=True))
    assert spell.column("spell_id").equals(bg.column("spell_id"))
    assert spell.column("spell_id").equals(truth.column("spell_id"))
    person_id = np.concatenate([a.people.person_id for a in areas])
    order = np.argsort(person_id)
    who = order[np.searchsorted(person_id, spell.column("person_id").to_numpy(), sorter=order)]
    birth = np.concatenate([a.people.birth for a in areas])[who]
    leave = np.concatenate([a.people.present_until() for a in areas])[who]
    start = _days(spell, "start_date")
    end = _days(spell, "end_date")
    cols = {
        "start": start, "end": end, "outcome": _str(spell, "outcome"),
        "age": (start - birth) / 365.25,
        "finnish": _str(bg, "finnish_skill"), "education": _str(bg, "education_level"),
        "months": bg.column("months_unemployed_before").to_numpy(),
        "service": np.array(truth.column("received_service").fill_null("none").to_pylist(), dtype=object),
        "p0": truth.column("p_employed_6m_no_service").to_numpy(),
        "latent_y": truth.column("employed_within_6m").to_numpy(zero_copy_only=False),
        "complete_truth": truth.column("follow_up_complete").to_numpy(zero_copy_only=False),
        # what an analyst sees: employed within 6 months, and whether the 6 months were followed up
        "y": (_str(spell, "outcome") == "employed") & (end != NO_DATE) & (end - start <= FOLLOW_UP_DAYS),
        "complete": start + FOLLOW_UP_DAYS + 1 < np.minimum(leave, AS_OF),
    }
    for s in SERVICES:
        cols[f"p_{s}"] = truth.column(f"p_employed_6m_under_{s}").to_numpy()
    return cols


def _days(table: pa.Table, column: str) -> np.ndarray:
    return table.column(column).cast(pa.int32()).fill_null(NO_DATE).to_numpy().astype(np.int64)


def _str(table: pa.Table, column: str) -> np.ndarray:
    return np.array(table.column(column).to_pylist(), dtype=object)


# --------------------------------------------------------------------------- tables

def test_tables_match_the_registry_and_code_systems(small: list[Area]) -> None:
    reg = default_registry()
    for name in TABLES:
        table = _concat(small, name)
        assert table.schema.equals(arrow_schema(reg.table(name))), name
        assert table.num_rows > 0
        for col in reg.table(name).columns:
            if col.code_system:
                values = reg.code_systems[col.code_system].values
                assert values is not None
                assert set(pc.unique(table.column(col.name)).to_pylist()) <= set(values), (name, col.name)
            if col.min is not None:
                assert pc.min(table.column(col.name)).as_py() >= col.min
            if col.max is not None:
                assert pc.max(table.column(col.name)).as_py() <= col.max


def test_keys_are_unique_and_references_resolve(small: list[Area]) -> None:
    spell, bg, svc = (_concat(small, n) for n in TABLES)
    ids = spell.column("spell_id").to_numpy()
    assert len(np.unique(ids)) == len(ids)
    assert bg.column("spell_id").equals(spell.column("spell_id"))
    assert bg.column("person_id").equals(spell.column("person_id"))
    sv = svc.column("service_event_id").to_numpy()
    assert len(np.unique(sv)) == len(sv)
    assert len(np.intersect1d(sv, ids)) == 0          # event ids do not collide across tables
    svc_spell = svc.column("spell_id").to_numpy()
    assert len(np.unique(svc_spell)) == len(svc_spell)  # at most one main service per spell
    pos = np.searchsorted(ids, svc_spell, sorter=np.argsort(ids))
    owner = spell.column("person_id").to_numpy()[np.argsort(ids)[pos]]
    assert (owner == svc.column("person_id").to_numpy()).all()


def test_spells_lie_inside_lives_residence_and_working_age(small: list[Area]) -> None:
    for area in small:
        p, spell = area.people, area.out.tables["jobseeker_spell"]
        window_start = day(window_start_for(DEFAULT_AS_OF, load_params()))
        order = np.argsort(p.person_id)
        who = order[np.searchsorted(p.person_id, spell.column("person_id").to_numpy(), sorter=order)]
        start, end = _days(spell, "start_date"), _days(spell, "end_date")
        assert (start >= window_start).all() and (start <= AS_OF).all()
        arrived = np.where(p.move_in[who] != NO_DATE, p.move_in[who], window_start)
        assert (start >= arrived).all()
        age = (start - p.birth[who]) / 365.25
        assert age.min() >= 17 and age.max() < 65
        ended = end != NO_DATE
        assert (end[ended] > start[ended]).all() and (end[ended] < AS_OF).all()
        assert (end[ended] <= p.present_until()[who][ended]).all()
        outcome = _str(spell, "outcome")
        assert ((outcome == "ongoing") == ~ended).all()
        current = (p.death == NO_DATE) & (p.move_out == NO_DATE)
        assert current[who[~ended]].all()
        moved = outcome == "moved"
        assert (end[moved] == p.move_out[who[moved]]).all()
        # no two spells of a person overlap (rows are sorted by person and start)
        same = who[1:] == who[:-1]
        prev_end = np.where(ended[:-1], end[:-1], AS_OF)
        assert (start[1:][same] > prev_end[same]).all()


def test_everyone_unemployed_now_has_an_ongoing_spell_and_no_one_else(small: list[Area]) -> None:
    for area in small:
        p, spell = area.people, area.out.tables["jobseeker_spell"]
        ongoing = pc.is_null(spell.column("end_date")).to_numpy(zero_copy_only=False)
        with_ongoing = np.isin(p.person_id, spell.column("person_id").to_numpy()[ongoing])
        current = (p.death == NO_DATE) & (p.move_out == NO_DATE)
        unemployed = current & (p.activity == ACTIVITIES.index("unemployed"))
        working_age = (p.age_on(AS_OF) >= 17) & (p.age_on(AS_OF) < 64)
        assert with_ongoing[unemployed & working_age].all()
        assert not with_ongoing[~unemployed].any()
        assert unemployed.sum() > 50


def test_services_start_early_inside_their_spell(small: list[Area]) -> None:
    spell, svc = _concat(small, "jobseeker_spell"), _concat(small, "employment_service")
    ids = spell.column("spell_id").to_numpy()
    sorter = np.argsort(ids)
    at = sorter[np.searchsorted(ids, svc.column("spell_id").to_numpy(), sorter=sorter)]
    start, end = _days(spell, "start_date")[at], _days(spell, "end_date")[at]
    end = np.where(end == NO_DATE, AS_OF, end)
    s, e = _days(svc, "start_date"), _days(svc, "end_date")
    assert (s >= start).all() and (s <= end).all() and (e >= s).all() and (e <= end).all()
    assert np.median(s - start) < 45


def test_same_seed_gives_identical_tables_and_another_seed_does_not(small: list[Area]) -> None:
    again = _run(100_000, [0, 30, 55, 75], seed=3)
    for name in TABLES:
        assert _concat(again, name).equals(_concat(small, name))
    assert _concat(again, "truth_employment_spell", truth=True).equals(
        _concat(small, "truth_employment_spell", truth=True))
    other = _run(100_000, [0, 30, 55, 75], seed=4)
    assert not _concat(other, "jobseeker_spell").equals(_concat(small, "jobseeker_spell"))


def test_latent_unemployment_matches_the_spells(small: list[Area]) -> None:
    months = employment.month_starts(day(window_start_for(DEFAULT_AS_OF, load_params())), AS_OF - 1)
    for area in small:
        p, spell = area.people, area.out.tables["jobseeker_spell"]
        by_month = p.latent["unemployed_days"]
        assert by_month.shape == (p.n, len(months))
        total = p.latent["unemployed_days_total"]
        start, end = _days(spell, "start_date"), _days(spell, "end_date")
        days = np.where(end == NO_DATE, AS_OF, end) - start
        order = np.argsort(p.person_id)
        who = order[np.searchsorted(p.person_id, spell.column("person_id").to_numpy(), sorter=order)]
        assert (np.bincount(who, weights=days, minlength=p.n) == total).all()
        assert (by_month.sum(axis=1) == total).all()
        assert p.latent["long_unemployed"].shape == (p.n,)
        assert (p.latent["long_unemployed"] == (total > 365)).all()
        assert p.latent["finnish_skill"].shape == (p.n,)


# --------------------------------------------------------------------------- realism

def test_shares_look_like_helsinki(large: dict[str, np.ndarray]) -> None:
    none = (large["service"] == "none").mean()
    assert 0.40 <= none <= 0.55
    ongoing = large["end"] == NO_DATE
    elapsed = AS_OF - large["start"]
    long_term = ongoing & (elapsed > 365)
    assert 0.25 <= long_term.sum() / ongoing.sum() <= 0.5
    weak = np.isin(large["finnish"], ["none", "A1", "A2"])
    old = large["age"] >= 50
    for group in (weak, old):
        assert long_term[group].sum() / ongoing[group].sum() > long_term[~group].sum() / ongoing[~group].sum()
    assert 0.3 <= large["y"][large["complete"]].mean() <= 0.55


# --------------------------------------------------------------------------- truth

def _effects_from_rules(large: dict[str, np.ndarray], service: str) -> np.ndarray:
    """Apply the rules of truth_employment_effects to the backgrounds (independently of the generator)."""
    table = employment.planted_effects_table()
    values = {"finnish_skill": large["finnish"], "education_level": large["education"],
              "age_at_start": large["age"], "months_unemployed_before": large["months"]}
    effect = np.full(len(large["p0"]), np.nan)
    for row in table.to_pylist():
        if row["service"] != service:
            continue
        if m := re.fullmatch(r"(\w+) in \((.*)\)", row["rule"]):
            mask = np.isin(values[m[1]], m[2].split(", "))
        else:
            m = re.fullmatch(r"(\S+) <= (\w+) < (\S+)", row["rule"])
            assert m, row["rule"]
            v = values[m[2]]
            mask = (v >= float(m[1])) & (v < float(m[3]))
        assert np.isnan(effect[mask]).all(), "subgroups overlap"
        effect[mask] = row["effect"]
    return effect


def test_effect_table_states_exactly_what_the_generator_applies(large: dict[str, np.ndarray]) -> None:
    for service in SERVICES:
        stated = _effects_from_rules(large, service)
        assert not np.isnan(stated).any(), f"{service}: subgroups do not cover everyone"
        np.testing.assert_allclose(large[f"p_{service}"] - large["p0"], stated, atol=1e-12)
    for s in ("p0", *(f"p_{s}" for s in SERVICES)):
        assert large[s].min() > 0.0 and large[s].max() < 1.0


def test_effects_table_is_written_once_per_city(small: list[Area]) -> None:
    written = [a.out.truth["truth_employment_effects"] for a in small if "truth_employment_effects" in a.out.truth]
    assert len(written) == 1 and small[0].people.area == 0
    assert written[0].equals(employment.planted_effects_table())
    assert set(written[0].column("service").to_pylist()) == set(SERVICES)


def test_outcomes_in_the_tables_agree_with_the_truth(large: dict[str, np.ndarray]) -> None:
    complete = large["complete"]
    assert (complete == large["complete_truth"]).all()
    assert (large["y"][complete] == large["latent_y"][complete]).all()
    assert (large["outcome"][large["y"]] == "employed").all()


def test_planted_heterogeneity_of_the_language_course(large: dict[str, np.ndarray]) -> None:
    gain = large["p_language_course"] - large["p0"]
    weak = np.isin(large["finnish"], ["none", "A1", "A2"])
    fluent = np.isin(large["finnish"], ["B2", "C1", "C2", "native"])
    assert gain[weak].mean() >= 0.15
    assert gain[fluent].mean() <= 0.05


def test_assignment_is_confounded(large: dict[str, np.ndarray]) -> None:
    """Weak Finnish means both more language courses and worse prospects: the naive contrast misleads."""
    c = large["complete"]
    treated, control = c & (large["service"] == "language_course"), c & (large["service"] == "none")
    naive = large["y"][treated].mean() - large["y"][control].mean()
    att = (large["p_language_course"] - large["p0"])[treated].mean()
    assert att > 0.12
    assert abs(naive - att) > 0.06
    # and the treated really differ from the untreated before treatment
    assert large["p0"][treated].mean() < large["p0"][control].mean() - 0.05


def _strata(large: dict[str, np.ndarray]) -> np.ndarray:
    """The discrete background counsellors decide on, rebuilt from the tables."""
    fin = np.select([np.isin(large["finnish"], ["none", "A1", "A2"]), large["finnish"] == "B1",
                     large["finnish"] == "B2"], [0, 1, 2], 3)
    edu = np.searchsorted(np.array(sorted(set(large["education"]))), large["education"])
    age = np.digitize(large["age"], [30, 50])
    months = np.digitize(large["months"], [6, 12])
    return ((fin * 4 + edu) * 3 + age) * 3 + months


def _stratified_att(large: dict[str, np.ndarray], service: str, group: np.ndarray) -> tuple[float, float, float]:
    """Effect on the treated within ``group`` by exact stratification on realised outcomes: (est, se, truth)."""
    c = large["complete"] & group
    treated, control = c & (large["service"] == service), c & (large["service"] == "none")
    strata, y = _strata(large), large["y"].astype(np.float64)
    k = strata.max() + 1
    n1, n0 = np.bincount(strata[treated], minlength=k), np.bincount(strata[control], minlength=k)
    s1, s0 = (np.bincount(strata[m], weights=y[m], minlength=k) for m in (treated, control))
    ok = (n1 > 0) & (n0 > 1)
    m1, m0 = s1[ok] / n1[ok], s0[ok] / n0[ok]
    w = n1[ok] / n1[ok].sum()
    est = float((w * (m1 - m0)).sum())
    se = float(np.sqrt((w**2 * (m1 * (1 - m1) / n1[ok] + m0 * (1 - m0) / n0[ok])).sum()))
    truth_mask = treated & np.isin(strata, np.flatnonzero(ok))
    truth = float((large[f"p_{service}"] - large["p0"])[truth_mask].mean())
    return est, se, truth


@pytest.mark.parametrize(("service", "group", "planted"), [
    ("language_course", ("finnish", ("none", "A1", "A2")), 0.20),
    ("vocational_training", ("education", ("basic",)), 0.15),
    ("wage_subsidy", ("months", None), 0.18),
    ("coaching", ("age", None), 0.10),
])
def test_planted_effect_is_recoverable_from_realised_outcomes(
        large: dict[str, np.ndarray], service: str, group: tuple[str, tuple[str, ...] | None],
        planted: float) -> None:
    """Exact stratification on the assignment features recovers the planted effect: within 3.5 standard
    errors of the truth (about +-0.05 to 0.07 here) while the naive contrast is far off."""
    column, values = group
    if values is not None:
        mask = np.isin(large[column], values)
    elif column == "months":
        mask = large["months"] >= 12
    else:
        mask = large["age"] < 30
    est, se, truth = _stratified_att(large, service, mask)
    assert truth == pytest.approx(planted)
    assert se < 0.025
    assert abs(est - truth) < 3.5 * se, (est, se, truth)
