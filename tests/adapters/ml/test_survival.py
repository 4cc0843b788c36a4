"""Time to employment: censoring handled (a naive 'not yet = never' count is biased down)."""

from __future__ import annotations

from typing import Any

import duckdb
import numpy as np

from ennakoiva.adapters.engine import DuckDBEngine
from ennakoiva.adapters.engine.jobseeker_frame import jobseeker_frame
from ennakoiva.adapters.ml.frame import CITY_COVARIATES, SERVICES, city_frame
from ennakoiva.adapters.ml.survival import time_to_employment


def test_six_month_probability_with_censoring(small_city: Any) -> None:
    with DuckDBEngine(small_city.db, read_only=True) as engine:
        frame = city_frame(jobseeker_frame(engine), complete_only=False)
    with duckdb.connect(str(small_city.truth), read_only=True) as con:
        t = con.sql("SELECT * FROM truth_employment_spell").df().set_index("spell_id").loc[frame["spell_id"]]
    p_real = t["p_employed_6m_no_service"].to_numpy().copy()
    for s in SERVICES:
        got = (t["received_service"] == s).to_numpy()
        p_real[got] = t[f"p_employed_6m_under_{s}"].to_numpy()[got]
    res = time_to_employment(frame, [*CITY_COVARIATES, "service"])
    p = res["p_employed_by_horizon"]
    assert 0.1 < res["censored_share"] < 0.9 and res["concordance"] > 0.55
    assert abs(p.mean() - p_real.mean()) < 0.02
    naive = frame["employed_within_6m"].mean()  # every spell, unfinished ones counted as "not employed"
    assert naive < p_real.mean() - 0.02
    assert np.corrcoef(p, p_real)[0, 1] > 0.5
    assert all(t["hazard_ratio_ci"][0] <= t["hazard_ratio"] <= t["hazard_ratio_ci"][1] for t in res["terms"])
