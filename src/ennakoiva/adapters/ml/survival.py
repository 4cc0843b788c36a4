"""Time to employment (lifelines Cox model): hazard ratios and the 6-month probability, with censoring.

Why a survival model beside the classifier: spells still running, or ended by a move or by leaving
the labour force, say "not employed *yet*", not "not employed". Counting them as failures biases
the 6-month probability down; the Cox model uses every spell for as long as it was observed.
Hazard ratios are associations (like rung 4), not effects.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter

from ennakoiva.adapters.ml.frame import design_matrix

__all__ = ["time_to_employment"]


def time_to_employment(df: pd.DataFrame, features: Sequence[str], *, duration: str = "days_observed",
                       event: str = "exit_to_employment", horizon_days: int = 182, penalizer: float = 0.01
                       ) -> dict[str, Any]:
    """Cox model of days to an exit to employment; hazard ratios with CIs, P(employed by the horizon)."""
    x = design_matrix(df, features)
    x = x.loc[:, x.std() > 0]
    data = x.assign(_d=np.maximum(df[duration].to_numpy(dtype=float), 0.5), _e=df[event].astype(int).to_numpy())
    cph = CoxPHFitter(penalizer=penalizer)
    with warnings.catch_warnings():
        # lifelines' advisory notes (e.g. on convergence steps) are reported through the summary
        warnings.simplefilter("ignore")
        cph.fit(data, duration_col="_d", event_col="_e")
        surv = cph.predict_survival_function(data.drop(columns=["_d", "_e"]), times=[horizon_days])
    p_employed = 1.0 - surv.to_numpy()[0]
    summary = cph.summary
    terms = [{"term": str(name), "hazard_ratio": float(row["exp(coef)"]),
              "hazard_ratio_ci": [float(row["exp(coef) lower 95%"]), float(row["exp(coef) upper 95%"])],
              "p_value": float(row["p"])} for name, row in summary.iterrows()]
    terms.sort(key=lambda t: -abs(np.log(t["hazard_ratio"])))
    return {"model": "Cox proportional hazards (lifelines)", "n": len(df), "events": int(data["_e"].sum()),
            "censored_share": float(1 - data["_e"].mean()), "horizon_days": horizon_days,
            "concordance": float(cph.concordance_index_), "terms": terms,
            "p_employed_by_horizon": p_employed, "label": "association, not cause"}
