"""The semiparametric efficiency bound of the planted service effects: the precision no estimator beats.

Why: the analytics issue asks that a simulation "recovers each planted average effect within
±0.01". Whether one city of a given size *can* do that is a property of the data, not of the
estimator: for a binary outcome and a confounded binary treatment, every regular estimator of the
average effect has a variance at least the efficiency bound (Hahn 1998)

    ATE:  V = E[ σ₁²(X)/e(X) + σ₀²(X)/(1 − e(X)) + (τ(X) − τ)² ]
    ATT:  V = E[ e(X)·σ₁²(X) + e(X)²·σ₀²(X)/(1 − e(X)) + e(X)·(τ(X) − τ_T)² ] / P(T = 1)²

with σₜ²(X) = μₜ(X)(1 − μₜ(X)), so its standard error is at least √(V/n). Here the bound is
computed from what only the generator knows: the true probabilities under no service and under
the service (the truth file) and the counsellors' true assignment probabilities
(:func:`~ennakoiva.adapters.synth.employment.assignment_probabilities`), over the job seekers an
effect estimate averages over (those who got the service or none, 6-month outcome known).

Only benchmarks and tests use this; the analysis code never imports the generator (an
import-linter contract).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from ennakoiva.adapters.synth.calibration import load_params
from ennakoiva.adapters.synth.employment import CEFR, SERVICES, Background, assignment_probabilities
from ennakoiva.adapters.synth.frame import EDUCATION

__all__ = ["EffectBound", "efficiency_bounds"]


@dataclass(frozen=True)
class EffectBound:
    """The bound for one service and estimand over ``n`` job seekers."""

    service: str
    estimand: str
    n: int
    n_treated: int
    truth: float
    se: float          # the smallest standard error any regular estimator can have

    def within(self, tolerance: float = 0.01) -> float:
        """The most any (asymptotically normal, unbiased) estimator can be within ±tolerance: 2Φ(tol/se) − 1."""
        return float(2 * norm.cdf(tolerance / self.se) - 1) if self.se > 0 else 1.0

    def as_dict(self) -> dict[str, Any]:
        return {"service": self.service, "estimand": self.estimand, "n": self.n, "n_treated": self.n_treated,
                "truth": round(self.truth, 5), "bound_se": round(self.se, 5),
                "best_possible_share_within_0_01": round(self.within(), 3)}


def _background(frame: pd.DataFrame) -> Background:
    n = len(frame)
    edu = frame["education_level"].map({v: i for i, v in enumerate(EDUCATION)})
    fin = frame["finnish_skill"].map({v: i for i, v in enumerate(CEFR)})
    if edu.isna().any() or fin.isna().any():
        raise ValueError("education_level and finnish_skill must use the registry's codes")
    return Background(age=frame["age_at_start"].to_numpy(dtype=float),
                      female=frame["sex"].astype(str).str.upper().str.startswith("F").to_numpy(),
                      education=edu.to_numpy(dtype=np.int64), finnish=fin.to_numpy(dtype=np.int64),
                      swedish=np.zeros(n, dtype=np.int64), work_years=frame["work_history_years"].to_numpy(dtype=float),
                      months_before=frame["months_unemployed_before"].to_numpy(dtype=float), area_dev=np.zeros(n))


def efficiency_bounds(frame: pd.DataFrame, truth: pd.DataFrame,
                      estimands: tuple[str, ...] = ("ate", "att")) -> list[EffectBound]:
    """Per service and estimand, the efficiency bound over the frame's job seekers.

    ``frame`` is the analysis frame (one row per spell with an observable outcome: ``service``,
    ``age_at_start``, ``sex``, ``education_level``, ``finnish_skill``, ``work_history_years``,
    ``months_unemployed_before``); ``truth`` is ``truth_employment_spell`` row-aligned with it.
    """
    if len(truth) != len(frame):
        raise ValueError("truth must be row-aligned with the frame")
    assign = assignment_probabilities(_background(frame), load_params()["employment"])
    mu0 = truth["p_employed_6m_no_service"].to_numpy(dtype=float)
    out = []
    for j, service in enumerate(SERVICES, start=1):
        keep = frame["service"].isin([service, "none"]).to_numpy()
        treated = (frame["service"] == service).to_numpy()[keep]
        e = (assign[:, j] / (assign[:, j] + assign[:, 0]))[keep]     # P(service | background, service or none)
        m1, m0 = truth[f"p_employed_6m_under_{service}"].to_numpy(dtype=float)[keep], mu0[keep]
        v1, v0, tau = m1 * (1 - m1), m0 * (1 - m0), m1 - m0
        n = int(keep.sum())
        for estimand in estimands:
            if estimand == "ate":
                target = float(tau.mean())
                var = float(np.mean(v1 / e + v0 / (1 - e) + (tau - target) ** 2))
            elif estimand == "att":
                target = float(np.sum(e * tau) / np.sum(e))     # E[τ | T=1] through the true propensity
                p = float(e.mean())
                var = float(np.mean(e * v1 + e**2 * v0 / (1 - e) + e * (tau - target) ** 2)) / p**2
            else:
                raise ValueError(f"unknown estimand {estimand!r}")
            out.append(EffectBound(service, estimand, n, int(treated.sum()), target, float(np.sqrt(var / n))))
    return out
