"""End to end over random files: the SQL counts equal pandas', and what is released is safe."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ennakoiva.adapters.engine import DuckDBEngine
from ennakoiva.adapters.engine.aggregates import file_columns, file_source, run_aggregate
from ennakoiva.adapters.reports.drilldown import build_query, protect_groups
from ennakoiva.adapters.reports.spec import file_spec
from ennakoiva.domain.disclosure import TOTAL, default_policy

ON = date(2026, 11, 1)

people = st.lists(st.tuples(st.sampled_from(["101", "102", "103", "205"]), st.sampled_from(["F", "M"]),
                            st.sampled_from(["fi", "sv", "so", "ru"]), st.booleans()),
                  min_size=1, max_size=400)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=people, two=st.booleans())
def test_random_files_count_right_and_release_safely(tmp_path: Path, rows: list[tuple[str, str, str, bool]],
                                                     two: bool) -> None:
    df = pd.DataFrame(rows, columns=["district", "sex", "tongue", "employed"])
    path = tmp_path / "people.csv"
    df.assign(employed=df.employed.map({True: "yes", False: "no"})).to_csv(path, index=False)
    by = ["district", "sex"] if two else ["tongue"]
    with DuckDBEngine(":memory:") as engine:
        src = file_source(path)
        spec = file_spec(src, file_columns(engine, src), by=by, measure="employed", areas={"district": "district"})
        result = run_aggregate(engine, build_query(spec, by, "employed"), ON)
    want = df.groupby(by).employed.agg(["sum", "count"])
    got = result.to_pydict()
    assert len(got["units"]) == len(want)
    for i in range(len(got["units"])):
        key = tuple(got[f"g{j}"][i] for j in range(len(by)))
        s = want.loc[key if len(key) > 1 else key[0]]
        assert (got["numerator"][i], got["denominator"][i]) == (s["sum"], s["count"])
    policy = default_policy()
    dd = protect_groups(result, spec, by, "employed", policy, ON)
    for row in dd.rows:
        for v in (row.count, row.denominator):
            assert v is None or v == 0 or v >= policy.threshold
        assert row.share is None or (row.count is not None and row.denominator is not None)
    area_pop = df.groupby("district").size()
    if two:
        for row in dd.rows:
            d = row.labels["district"]
            if d != TOTAL and area_pop[d] < (policy.area_floor or 0):
                assert row.count is None and row.denominator is None
