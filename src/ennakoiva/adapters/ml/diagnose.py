"""Rung 4, diagnosis: which characteristics go with an outcome, how strongly, how surely.

An interpretable model on purpose — a logistic regression (statsmodels) for a 0/1 outcome, an
ordinary least squares fit otherwise — so every number is a readable effect size: the odds ratio
and the average marginal effect (percentage points) of each characteristic with a 95 % interval,
holding the others fixed. These are **associations, not causes**: weak Finnish "going with" lower
employment says nothing about what a language course would do (that is rung 5).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import statsmodels.api as sm

from ennakoiva.adapters.ml.frame import binary_column, design_matrix

__all__ = ["LABEL", "diagnose"]

LABEL = "association, not cause: each figure holds the other characteristics fixed but does not show what an " \
        "intervention would change"


def _outcome(df: pd.DataFrame, outcome: str) -> tuple[np.ndarray, bool]:
    y = df[outcome]
    if y.dtype == bool or not pd.api.types.is_numeric_dtype(y) or set(np.unique(y.dropna())) <= {0, 1}:
        return binary_column(y, outcome).astype(float), True
    return y.to_numpy(dtype=float), False


def diagnose(df: pd.DataFrame, outcome: str, covariates: Sequence[str], *, max_rows: int = 200_000,
             seed: int = 0) -> dict[str, Any]:
    """Odds ratios and average marginal effects (or OLS coefficients) with 95 % intervals."""
    if outcome not in df.columns:
        raise KeyError(f"no such column: {outcome!r}")
    if len(df) > max_rows:  # a large sample gives the same intervals to the third decimal, much faster
        df = df.sample(max_rows, random_state=seed)
    y, binary = _outcome(df, outcome)
    x = design_matrix(df, covariates)
    x = x.loc[:, x.std() > 0]
    exog = sm.add_constant(x.to_numpy(dtype=float), has_constant="add")
    names = ["const", *x.columns]
    rows: list[dict[str, Any]] = []
    if binary:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence chatter on separable toy data; checked below
            fit = sm.Logit(y, exog).fit(disp=0, maxiter=200, cov_type="HC1")
        if not fit.mle_retvals.get("converged", True):
            raise ValueError("the logistic model did not converge (perfect separation?); drop a covariate")
        margins = fit.get_margeff(at="overall").summary_frame(alpha=0.05)
        ci = fit.conf_int(0.05)
        for i, name in enumerate(names[1:], start=1):
            me = margins.iloc[i - 1]
            rows.append({"term": name, "odds_ratio": math.exp(fit.params[i]),
                         "odds_ratio_ci": [math.exp(ci[i, 0]), math.exp(ci[i, 1])],
                         "marginal_effect": float(me.iloc[0]), "marginal_effect_ci": [float(me.iloc[4]),
                                                                                      float(me.iloc[5])],
                         "p_value": float(fit.pvalues[i])})
        model = "logistic regression (robust standard errors); marginal effects averaged over people"
    else:
        fit = sm.OLS(y, exog).fit(cov_type="HC1")
        ci = fit.conf_int(0.05)
        rows = [{"term": name, "coefficient": float(fit.params[i]), "coefficient_ci": [float(ci[i, 0]),
                                                                                      float(ci[i, 1])],
                 "p_value": float(fit.pvalues[i])} for i, name in enumerate(names[1:], start=1)]
        model = "linear regression (robust standard errors)"
    key = "marginal_effect" if binary else "coefficient"
    rows.sort(key=lambda r: -abs(r[key]))
    return {"outcome": outcome, "n": len(y), "outcome_mean": float(y.mean()), "model": model, "label": LABEL,
            "terms": rows}
