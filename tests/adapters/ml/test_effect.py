"""Rung 5: the effect estimator recovers planted effects, refuses without overlap, finds no placebo effect."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from ennakoiva.adapters.ml.effect import EffectSettings, estimate_effect
from ennakoiva.adapters.ml.frame import CITY_COVARIATES, AnalysisData, analysis_data, service_data

FAST = EffectSettings(n_rep=1, n_folds=3)


@pytest.fixture(scope="module")
def language_att(planted: pd.DataFrame) -> tuple[dict[str, Any], float]:
    keep = planted["service"].isin(["language_course", "none"])
    truth = float(planted.loc[keep & (planted["service"] == "language_course"), "tau_language_course"].mean())
    return estimate_effect(service_data(planted, "language_course"), "att", FAST), truth


def test_recovers_the_planted_effect_on_the_treated(language_att: tuple[dict[str, Any], float]) -> None:
    res, truth = language_att
    assert res["refused"] is None and res["overlap"]["pass"]
    assert res["ci_low"] <= truth <= res["ci_high"], (res["estimate"], truth)
    assert abs(res["estimate"] - truth) < 3 * res["se"]


def test_naive_difference_is_biased(language_att: tuple[dict[str, Any], float]) -> None:
    res, truth = language_att
    naive = res["naive_difference"]
    assert not naive["ci_low"] <= truth <= naive["ci_high"]
    assert abs(naive["estimate"] - truth) > 0.05


def test_placebo_and_sensitivity_are_reported(language_att: tuple[dict[str, Any], float]) -> None:
    res, _ = language_att
    assert res["placebo"]["pass"] and abs(res["placebo"]["estimate"]) < 2.576 * res["placebo"]["se"]
    sens = res["sensitivity"]
    assert sens["theta_lower"] < res["estimate"] < sens["theta_upper"]
    assert 0 < sens["robustness_value"] < 1 and isinstance(sens["fragile"], bool)
    assert {"estimate", "ci_low", "ci_high", "estimand", "n_treated", "n_control", "overlap", "placebo",
            "sensitivity", "refused"} <= set(res)


def test_a_confounded_placebo_treatment_has_no_effect(planted: pd.DataFrame) -> None:
    """A fake 'service' given by the counsellors' own rule (weak Finnish) but doing nothing: the
    naive difference shows a large spurious effect, the adjusted estimate none."""
    untreated = planted[planted["service"] == "none"].reset_index(drop=True)
    rng = np.random.default_rng(3)
    weak = untreated["finnish_skill"].isin(["none", "A1", "A2"]).to_numpy()
    fake = (rng.random(len(untreated)) < np.where(weak, 0.6, 0.1)).astype(int)
    df = untreated.assign(fake=fake)
    res = estimate_effect(analysis_data(df, "fake", "employed_within_6m", CITY_COVARIATES), "ate",
                          EffectSettings(n_rep=1, n_folds=3, placebo=False))
    assert res["ci_low"] <= 0.0 <= res["ci_high"], res["estimate"]
    assert res["naive_difference"]["ci_high"] < 0.0


def _toy(n: int, seed: int, assign: str) -> AnalysisData:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    # deterministic: treated exactly when x > 0; one-sided: nobody below x = -1 is ever treated,
    # above it a coin flip
    t = (x > 0).astype(int) if assign == "deterministic" else np.where(x < -1, 0, rng.random(n) < 0.5).astype(int)
    y = (rng.random(n) < 0.3 + 0.1 * t + 0.05 * np.tanh(x)).astype(float)
    return AnalysisData(pd.DataFrame({"x": x, "x2": rng.normal(size=n)}), t, y, "t", "y")


def test_refuses_without_overlap() -> None:
    data = _toy(3000, 1, "deterministic")
    for estimand in ("ate", "att"):
        res = estimate_effect(data, estimand, FAST)
        assert res["refused"] is not None and res["estimate"] is None
        assert not res["overlap"]["pass"] and res["overlap"]["share_lacking_support"] > 0.05
        assert "no comparable" in res["refused"]["reason"]


def test_partial_overlap_refuses_the_ate_but_answers_the_att() -> None:
    data = _toy(4000, 2, "one-sided")
    ate = estimate_effect(data, "ate", FAST)
    assert ate["refused"] is not None and "--estimand att" in ate["refused"]["reason"]
    att = estimate_effect(data, "att", FAST)
    assert att["refused"] is None and att["ci_low"] <= 0.1 <= att["ci_high"]


def test_refuses_tiny_groups() -> None:
    data = _toy(200, 3, "one-sided")
    small = AnalysisData(data.x, np.r_[np.ones(5, int), np.zeros(195, int)], data.outcome, "t", "y")
    assert "too few" in estimate_effect(small, "ate", FAST)["refused"]["reason"]


def test_a_non_orthogonal_sensitivity_fallback_is_said_in_the_answer_not_warned(
        planted: pd.DataFrame, recwarn: pytest.WarningsRecorder) -> None:
    """DoubleML's 'nu2 is not positive' fallback (small, badly overlapping data) is reported in the
    result's sensitivity section; no UserWarning reaches the terminal."""
    small = planted[planted["service"].isin(["wage_subsidy", "none"])].head(900).reset_index(drop=True)
    res = estimate_effect(service_data(small, "wage_subsidy"), "ate", EffectSettings(n_rep=1, n_folds=3,
                                                                                      placebo=False))
    sens = res["sensitivity"]
    assert sens["orthogonal"] is False and "non-orthogonal" in sens["note"]   # this data triggers it
    assert not [w for w in recwarn if "riesz representer" in str(w.message)]
