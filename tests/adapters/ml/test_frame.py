"""The analysis frame: the engine's definitions agree with the planted truth, encodings are sound."""

from __future__ import annotations

from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pytest

from ennakoiva.adapters.engine import DuckDBEngine
from ennakoiva.adapters.engine.jobseeker_frame import extract_date, jobseeker_frame
from ennakoiva.adapters.ml.frame import analysis_data, binary_column, design_matrix, group_mask, service_data


def test_outcome_and_follow_up_match_the_truth(small_city: Any) -> None:
    with DuckDBEngine(small_city.db, read_only=True) as engine:
        assert extract_date(engine) == small_city.result.as_of
        frame = jobseeker_frame(engine).to_pandas()
    with duckdb.connect(str(small_city.truth), read_only=True) as con:
        truth = con.sql("SELECT spell_id, employed_within_6m, follow_up_complete, received_service "
                        "FROM truth_employment_spell").df()
    merged = frame.merge(truth, on="spell_id", suffixes=("", "_true"))
    assert len(merged) == len(frame) == len(truth)
    assert (merged["follow_up_complete"] == merged["follow_up_complete_true"]).all()
    known = merged[merged["follow_up_complete"]]
    assert (known["employed_within_6m"] == known["employed_within_6m_true"]).all()
    assert (merged["service"].fillna("none") == merged["received_service"].fillna("none")).all()
    assert merged["area_unemployment"].between(0, 1).all() and merged["area_unemployment"].std() > 0


def test_design_matrix_ranks_ordinals_and_one_hots_text() -> None:
    df = pd.DataFrame({"finnish_skill": ["A1", "native"], "city": ["a", "b"], "age": [30.0, np.nan],
                       "f": [True, False]})
    x = design_matrix(df, ["finnish_skill", "city", "age", "f"])
    assert x["finnish_skill"].tolist() == [1.0, 7.0]
    assert x["city=b"].tolist() == [0.0, 1.0]
    assert x["age"].tolist() == [30.0, 30.0] and x["age_missing"].tolist() == [0.0, 1.0]
    assert x["f"].tolist() == [1.0, 0.0]


def test_binary_columns_and_errors() -> None:
    assert binary_column(pd.Series(["yes", "no"]), "t").tolist() == [1, 0]
    with pytest.raises(ValueError, match="must be 0/1"):
        binary_column(pd.Series([0, 2]), "t")
    with pytest.raises(KeyError, match="no such column"):
        analysis_data(pd.DataFrame({"t": [0, 1]}), "t", "y")


def test_groups_and_service_comparisons(small_frame: pd.DataFrame) -> None:
    weak = group_mask(small_frame, ["finnish_skill=none,A1,A2", "age_at_start<50"])
    assert weak.sum() > 0 and (small_frame.loc[weak, "age_at_start"] < 50).all()
    data = service_data(small_frame, "coaching")
    assert set(np.unique(data.treatment)) == {0, 1}
    assert len(data.treatment) == small_frame["service"].isin(["coaching", "none"]).sum()
    with pytest.raises(ValueError, match="unknown service"):
        service_data(small_frame, "astrology")
