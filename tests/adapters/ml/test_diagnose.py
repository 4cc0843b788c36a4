"""Rung 4, diagnosis: readable effect sizes with intervals, labelled as associations."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from ennakoiva.adapters.ml.diagnose import diagnose


def test_odds_ratio_interval_covers_the_planted_one() -> None:
    rng = np.random.default_rng(5)
    n = 20_000
    weak = rng.random(n) < 0.3
    age = rng.uniform(20, 60, n)
    eta = 0.2 - 0.9 * weak - 0.02 * (age - 40)
    y = rng.random(n) < 1 / (1 + np.exp(-eta))
    res = diagnose(pd.DataFrame({"weak_finnish": weak, "age": age, "employed": y}), "employed", ["weak_finnish", "age"])
    term = next(t for t in res["terms"] if t["term"] == "weak_finnish")
    lo, hi = term["odds_ratio_ci"]
    assert lo <= math.exp(-0.9) <= hi
    assert term["marginal_effect"] < 0 and term["marginal_effect_ci"][1] < 0
    assert "not cause" in res["label"]
    assert res["terms"][0]["term"] == "weak_finnish"  # sorted by size of the marginal effect


def test_city_diagnosis_finds_weak_finnish_lowers_employment(small_frame: pd.DataFrame) -> None:
    res = diagnose(small_frame, "employed_within_6m", ["weak_finnish", "education_level", "age_at_start",
                                                       "months_unemployed_before"])
    weak = next(t for t in res["terms"] if t["term"] == "weak_finnish")
    assert weak["marginal_effect_ci"][1] < 0  # the planted outcome model lowers p0 for weak Finnish


def test_continuous_outcome_uses_linear_regression() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=500)
    res = diagnose(pd.DataFrame({"x": x, "y": 2 * x + rng.normal(size=500)}), "y", ["x"])
    lo, hi = res["terms"][0]["coefficient_ci"]
    assert lo <= 2 <= hi and "linear" in res["model"]
    with pytest.raises(KeyError):
        diagnose(pd.DataFrame({"x": x}), "y", ["x"])
