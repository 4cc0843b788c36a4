"""Drill-down queries against an independent pandas computation on the small city."""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
import pytest

from ennakoiva.adapters.engine import DuckDBEngine
from ennakoiva.adapters.engine.aggregates import compile_aggregate, reference_date, run_aggregate
from ennakoiva.adapters.reports.drilldown import build_query, categories_for
from ennakoiva.adapters.reports.spec import load_specs


@pytest.fixture(scope="module")
def engine(small_city: Any) -> Any:
    with DuckDBEngine(small_city.db, read_only=True) as e:
        yield e


def _residents(small_city: Any, on: date) -> pd.DataFrame:
    """Residents on ``on`` computed in pandas, from the raw table, without the spec's SQL."""
    with DuckDBEngine(small_city.db, read_only=True) as e:
        p = e.read("person").to_pandas()
        es = e.read("employment_service").to_pandas()
    ts = pd.Timestamp(on)
    for col in ("birth_date", "moved_in_date", "death_date", "move_out_date"):
        p[col] = pd.to_datetime(p[col])
    alive = ((p.birth_date <= ts) & (p.moved_in_date.isna() | (p.moved_in_date <= ts))
             & (p.death_date.isna() | (p.death_date > ts)) & (p.move_out_date.isna() | (p.move_out_date > ts)))
    r = p[alive].copy()
    month, day = r.birth_date.dt.month, r.birth_date.dt.day
    had_birthday = (month < ts.month) | ((month == ts.month) & (day <= ts.day))
    r["age"] = ts.year - r.birth_date.dt.year - (~had_birthday).astype(int)
    r["foreign"] = ~r.mother_tongue.isin(["fi", "sv", "se"])
    es["start_date"], es["end_date"] = pd.to_datetime(es.start_date), pd.to_datetime(es.end_date)
    window = es[(es.start_date <= ts) & (es.end_date > ts - pd.DateOffset(months=12))]
    r["service"] = r.person_id.isin(set(window.person_id))
    return r


def _by(table: Any) -> dict[tuple[str, ...], tuple[int, int, int]]:
    d = table.to_pydict()
    keys = [k for k in d if k.startswith("g")]
    return {tuple(d[k][i] for k in keys): (d["units"][i], d["denominator"][i], d["numerator"][i])
            for i in range(table.num_rows)}


def test_reference_date_is_the_extract_date(engine: Any, small_city: Any) -> None:
    spec = load_specs()["residents"]
    assert reference_date(engine, spec.reference_date) == small_city.result.as_of


def test_foreign_language_by_district_and_sex_agrees_with_pandas(engine: Any, small_city: Any) -> None:
    on = small_city.result.as_of
    spec = load_specs()["residents"]
    got = _by(run_aggregate(engine, build_query(spec, ["district", "sex"], "foreign_language"), on))
    r = _residents(small_city, on)
    want = {(str(d), str(s)): (len(g), len(g), int(g.foreign.sum()))
            for (d, s), g in r.groupby(["district_code", "sex"])}
    assert got == want
    assert sum(v[0] for v in got.values()) == len(r) > 20_000


def test_employment_service_users_of_working_age_agree_with_pandas(engine: Any, small_city: Any) -> None:
    on = small_city.result.as_of
    spec = load_specs()["residents"]
    got = _by(run_aggregate(engine, build_query(spec, ["age_band"], "employment_service_user"), on))
    r = _residents(small_city, on)
    working = r[(r.age >= 18) & (r.age <= 64)]
    assert sum(v[1] for v in got.values()) == len(working)
    assert sum(v[2] for v in got.values()) == int(working.service.sum()) > 100
    assert got[("0-6",)][1:] == (0, 0)  # children are outside the denominator


def test_filters_keep_only_the_listed_values(engine: Any, small_city: Any) -> None:
    on = small_city.result.as_of
    spec = load_specs()["residents"]
    both = _by(run_aggregate(engine, build_query(spec, ["sex"], None), on))
    women = _by(run_aggregate(engine, build_query(spec, ["sex"], None, {"sex": ["F"]}), on))
    assert women == {("F",): both[("F",)]}


@pytest.mark.parametrize("spec_id", ["residents", "jobseekers"])
def test_every_dimension_and_measure_runs(engine: Any, spec_id: str) -> None:
    spec = load_specs()[spec_id]
    on = reference_date(engine, spec.reference_date)
    assert on is not None
    units = None
    for dim in spec.dimensions:
        for m in [None, *(x.id for x in spec.measures)]:
            table = run_aggregate(engine, build_query(spec, [dim.id], m), on)
            got = _by(table)
            total = sum(v[0] for v in got.values())
            units = units if units is not None else total
            assert total == units > 0, (dim.id, m)  # every dimension partitions the same universe
            assert all(n <= d <= u for u, d, n in got.values()), (dim.id, m)  # numerator ⊆ denominator ⊆ units


def test_only_the_links_used_are_compiled_and_read(small_city: Any) -> None:
    spec = load_specs()["residents"]
    plain = build_query(spec, ["district"], "foreign_language")
    sql = compile_aggregate(plain, small_city.result.as_of)
    assert "employment_service" not in sql and "income" not in sql
    assert categories_for(spec, plain) == ("population",)
    activity = build_query(spec, ["activity"], "employment_service_user")
    assert set(categories_for(spec, activity)) == {"population", "employment", "income"}


def test_jobseekers_employed_within_six_months_agrees_with_pandas(engine: Any, small_city: Any) -> None:
    spec = load_specs()["jobseekers"]
    on = reference_date(engine, spec.reference_date)
    assert on is not None
    got = _by(run_aggregate(engine, build_query(spec, ["education"], "employed_within_6_months"), on))
    s = engine.read("jobseeker_spell").to_pandas()
    b = engine.read("jobseeker_background").to_pandas()[["spell_id", "education_level"]]
    ts = pd.Timestamp(on)
    s["start_date"], s["end_date"] = pd.to_datetime(s.start_date), pd.to_datetime(s.end_date)
    s = s[(s.start_date <= ts) & (s.start_date > ts - pd.DateOffset(months=36))]
    latest = s.sort_values(["start_date", "spell_id"]).groupby("person_id").tail(1).merge(b, on="spell_id")
    observed = latest.start_date <= ts - pd.Timedelta(days=183)
    employed = ((latest.outcome == "employed") & latest.end_date.notna()
                & (latest.end_date <= latest.start_date + pd.Timedelta(days=183)))
    latest = latest.assign(den=observed, num=observed & employed)
    want = {(str(e),): (len(g), int(g.den.sum()), int(g.num.sum())) for e, g in latest.groupby("education_level")}
    assert got == want
    assert sum(v[2] for v in got.values()) > 100
