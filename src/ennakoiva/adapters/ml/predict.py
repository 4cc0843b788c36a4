"""Rung 6, prediction: a calibrated probability of employment within 6 months, and its limits.

Gradient boosting (LightGBM) ranks people; Platt scaling (or isotonic regression) on a separate
calibration split turns scores into probabilities that mean what they say (0.3 = three in ten such
people found work). Platt is the default: on a few thousand spells isotonic steps cost ranking
(AUC) for no calibration gain. Everything is judged on a holdout the model never saw: AUC, Brier score, expected
calibration error and the calibration curve; a **fairness report** per mother tongue, sex and age
band with bootstrap intervals (so a gap is shown with its uncertainty, not as a bare number); and
**conformal prediction sets** (MAPIE split-conformal): at 90 % confidence the set {employed},
{not employed} or both — "both" is the model saying honestly that it cannot tell.

The model card records the data window, features, metrics and limits. Mother tongue and sex are
not features by default: they are what the fairness report is about.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from mapie.classification import SplitConformalClassifier
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import brier_score_loss, roc_auc_score

from ennakoiva.adapters.ml.frame import binary_column, design_matrix
from ennakoiva.adapters.ml.learners import classifier

__all__ = ["PredictionModel", "calibration_error", "fairness_report", "fit_prediction"]

GROUPS = ("mother_tongue", "sex", "age_band")


def calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error over equal-count bins: mean |observed - predicted|, weighted."""
    order = np.argsort(p, kind="stable")
    err = 0.0
    for chunk in np.array_split(order, bins):
        if len(chunk):
            err += len(chunk) * abs(y[chunk].mean() - p[chunk].mean())
    return float(err / len(y))


def calibration_curve(y: np.ndarray, p: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """Points of the reliability plot: mean predicted vs observed rate per equal-count bin."""
    order = np.argsort(p, kind="stable")
    return [{"predicted": float(p[c].mean()), "observed": float(y[c].mean()), "n": len(c)}
            for c in np.array_split(order, bins) if len(c)]


def _metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    out = {"n": float(len(y)), "observed_rate": float(y.mean()), "mean_predicted": float(p.mean()),
           "brier": float(brier_score_loss(y, p)), "calibration_error": calibration_error(y, p, bins=5)}
    out["auc"] = float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else float("nan")
    pred = p >= 0.5
    out["false_negative_rate"] = float((~pred & (y == 1)).sum() / max((y == 1).sum(), 1))
    out["selection_rate"] = float(pred.mean())
    return out


def fairness_report(y: np.ndarray, p: np.ndarray, groups: pd.DataFrame, *, n_boot: int = 200, seed: int = 0,
                    min_group: int = 50) -> dict[str, Any]:
    """Per group of each column: metrics with bootstrap 95 % intervals (groups under ``min_group`` pooled)."""
    rng = np.random.default_rng(seed)
    report: dict[str, Any] = {}
    for col in groups.columns:
        values = groups[col].astype(str).to_numpy()
        counts = pd.Series(values).value_counts()
        small = set(counts[counts < min_group].index)
        values = np.where(np.isin(values, list(small)), "other (small groups)", values)
        rows = []
        for g in sorted(set(values)):
            idx = np.flatnonzero(values == g)
            point = _metrics(y[idx], p[idx])
            boots = []
            for _ in range(n_boot):
                b = rng.choice(idx, len(idx))
                boots.append(_metrics(y[b], p[b]))
            ci = {k: [float(np.nanquantile([bb[k] for bb in boots], 0.025)),
                      float(np.nanquantile([bb[k] for bb in boots], 0.975))]
                  for k in ("auc", "brier", "calibration_error", "false_negative_rate", "selection_rate")}
            rows.append({"group": g, **point, "ci": ci})
        report[col] = rows
    return report


@dataclass
class PredictionModel:
    """A calibrated classifier over encoded features, with its model card."""

    features: list[str]
    columns: list[str]                 # encoded design-matrix columns, in order
    model: Any
    card: dict[str, Any] = field(default_factory=dict)

    def encode(self, df: pd.DataFrame) -> np.ndarray:
        x = design_matrix(df, self.features)
        for col in self.columns:
            if col not in x:
                x[col] = 0.0
        return x[self.columns].to_numpy(dtype=float)

    def predict_proba(self, df: pd.DataFrame) -> np.ndarray:
        """P(outcome = 1) per row."""
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="X does not have valid feature names")
            return np.asarray(self.model.predict_proba(self.encode(df))[:, 1])


def fit_prediction(df: pd.DataFrame, outcome: str, features: Sequence[str], *, groups: Sequence[str] = GROUPS,
                   seed: int = 0, threads: int = 1, n_boot: int = 200, confidence: float = 0.9,
                   calibration: str = "sigmoid") -> tuple[PredictionModel, dict[str, Any]]:
    """Fit on 60 %, calibrate on 20 %, judge on the last 20 % (half of it conformalises the sets)."""
    y_all = binary_column(df[outcome], outcome)
    x_df = design_matrix(df, features)
    x_all = x_df.to_numpy(dtype=float)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(df))
    n = len(df)
    tr, cal, te = order[: int(0.6 * n)], order[int(0.6 * n): int(0.8 * n)], order[int(0.8 * n):]
    if min(len(tr), len(cal), len(te)) < 50 or len(set(y_all[tr])) < 2:
        raise ValueError("too little data to fit and judge a prediction model (need a few hundred rows)")
    # Slow learning and shallow trees: employment odds are close to additive in the background, and
    # a smooth model ranks better than a deep one on a few thousand spells.
    base = classifier(seed=seed, threads=threads, n_estimators=300, learning_rate=0.03, num_leaves=7,
                      min_child_samples=100)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        base.fit(x_all[tr], y_all[tr])
        model = CalibratedClassifierCV(FrozenEstimator(base), method=calibration).fit(x_all[cal], y_all[cal])
        p = model.predict_proba(x_all[te])[:, 1]
        raw = base.predict_proba(x_all[te])[:, 1]
        half = len(te) // 2
        conf_idx, eval_idx = te[:half], te[half:]
        mapie = SplitConformalClassifier(estimator=model, confidence_level=confidence, prefit=True,
                                         random_state=seed)
        mapie.conformalize(x_all[conf_idx], y_all[conf_idx])
        _, sets = mapie.predict_set(x_all[eval_idx])
    sets = np.asarray(sets)[:, :, 0]
    covered = sets[np.arange(len(eval_idx)), y_all[eval_idx]]
    y_te = y_all[te]
    metrics = {"auc": float(roc_auc_score(y_te, p)), "brier": float(brier_score_loss(y_te, p)),
               "calibration_error": calibration_error(y_te, p), "auc_uncalibrated": float(roc_auc_score(y_te, raw)),
               "calibration_error_uncalibrated": calibration_error(y_te, raw),
               "base_rate": float(y_te.mean()), "n_train": len(tr), "n_calibration": len(cal), "n_holdout": len(te)}
    present = [g for g in groups if g in df.columns]
    fairness = fairness_report(y_te, p, df.iloc[te][present].reset_index(drop=True), n_boot=n_boot, seed=seed)
    conformal = {"confidence": confidence, "coverage": float(covered.mean()),
                 "share_both_labels": float((sets.sum(axis=1) == 2).mean()),
                 "share_empty": float((sets.sum(axis=1) == 0).mean()), "n": len(eval_idx),
                 "coverage_by_group": {g: {str(k): float(v) for k, v in pd.Series(covered).groupby(
                     df.iloc[eval_idx][g].astype(str).to_numpy()).mean().items()} for g in present}}
    window = {}
    if "start_date" in df:
        window = {"first_spell": str(df["start_date"].min()), "last_spell": str(df["start_date"].max())}
    card = {"model": f"LightGBM gradient boosting + {calibration} calibration", "outcome": outcome,
            "features": list(features), "not_features": [g for g in ("mother_tongue", "sex") if g not in features],
            "data_window": window, "metrics": metrics, "conformal": conformal,
            "limits": ["trained on spells whose 6-month outcome was observable; newer spells may differ",
                       "a probability for people like this, not a verdict on a person",
                       "groups under 50 people in the holdout are pooled in the fairness report",
                       "association with the service received is not its effect (see recommend)"]}
    pm = PredictionModel(list(features), list(x_df.columns), model, card)
    return pm, {"model_card": card, "metrics": metrics, "calibration_curve": calibration_curve(y_te, p),
                "fairness": fairness, "conformal": conformal}
