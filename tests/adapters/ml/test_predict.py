"""Rung 6, prediction: discrimination near the true probabilities', calibrated, fair-reported, honest sets."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from ennakoiva.adapters.ml.frame import CITY_COVARIATES
from ennakoiva.adapters.ml.predict import calibration_error, fit_prediction

FEATURES = [*CITY_COVARIATES, "service"]


@pytest.fixture(scope="module")
def fitted(planted: pd.DataFrame) -> tuple[Any, dict[str, Any], np.ndarray]:
    model, report = fit_prediction(planted, "employed_within_6m", FEATURES, n_boot=60, seed=0)
    holdout = np.random.default_rng(0).permutation(len(planted))[int(0.8 * len(planted)):]
    return model, report, holdout


def test_auc_close_to_the_true_probabilities(planted: pd.DataFrame, fitted: tuple[Any, dict[str, Any], Any]) -> None:
    _, report, holdout = fitted
    y, p_true = planted["employed_within_6m"].to_numpy()[holdout], planted["p_real"].to_numpy()[holdout]
    true_auc = roc_auc_score(y, p_true)
    assert report["metrics"]["auc"] >= 0.97 * true_auc, (report["metrics"]["auc"], true_auc)


def test_calibrated(planted: pd.DataFrame, fitted: tuple[Any, dict[str, Any], Any]) -> None:
    _, report, holdout = fitted
    # the noise floor of the binned error on this holdout: what the true probabilities score
    floor = calibration_error(planted["employed_within_6m"].to_numpy()[holdout], planted["p_real"].to_numpy()[holdout])
    assert report["metrics"]["calibration_error"] <= 0.02, (report["metrics"]["calibration_error"], floor)
    curve = report["calibration_curve"]
    assert len(curve) == 10 and all(abs(c["predicted"] - c["observed"]) < 0.06 for c in curve)


def test_fairness_report_by_group_with_intervals(fitted: tuple[Any, dict[str, Any], Any]) -> None:
    _, report, _ = fitted
    assert set(report["fairness"]) == {"mother_tongue", "sex", "age_band"}
    for rows in report["fairness"].values():
        for r in rows:
            lo, hi = r["ci"]["auc"]
            assert lo <= r["auc"] <= hi
            assert r["n"] >= 50


def test_conformal_sets_cover_and_model_card(fitted: tuple[Any, dict[str, Any], Any], planted: pd.DataFrame) -> None:
    model, report, _ = fitted
    assert report["conformal"]["coverage"] >= 0.88
    assert 0 < report["conformal"]["share_both_labels"] < 1
    card = report["model_card"]
    assert card["features"] == FEATURES and "mother_tongue" in card["not_features"] and card["limits"]
    p = model.predict_proba(planted.head(5))
    assert p.shape == (5,) and ((p > 0) & (p < 1)).all()
