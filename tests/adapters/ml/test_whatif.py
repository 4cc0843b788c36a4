"""Rung 5, what-if: raising a service's coverage in a group changes employment by the planted amount."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ennakoiva.adapters.ml.effect import EffectSettings
from ennakoiva.adapters.ml.frame import AnalysisData, group_mask, service_data
from ennakoiva.adapters.ml.whatif import what_if

FAST = EffectSettings(n_rep=1, n_folds=3, placebo=False)


def test_language_course_for_weak_finnish_speakers(planted: pd.DataFrame) -> None:
    comparable = planted["service"].isin(["language_course", "none"])
    group = group_mask(planted, ["finnish_skill=none,A1,A2"])
    data = service_data(planted, "language_course")
    observed = float(((planted["service"] == "language_course") & group).sum() / group.sum())
    target = observed + 0.10
    res = what_if(data, group[comparable].to_numpy(), None, target, other_treated=(group & ~comparable).to_numpy(),
                  settings=FAST)
    untreated = group & (planted["service"] == "none")
    true_delta = 0.10 * float(planted.loc[untreated, "tau_language_course"].mean())
    assert res["refused"] is None
    assert abs(res["coverage_from"] - observed) < 1e-12
    assert res["ci_low"] <= true_delta <= res["ci_high"], (res["delta"], true_delta)
    assert res["newly_treated"] == round(0.10 * group.sum())
    assert "would change by" in res["sentence"]


def test_refuses_what_cannot_happen_or_cannot_be_compared() -> None:
    rng = np.random.default_rng(0)
    n = 3000
    x = rng.normal(size=n)
    t = (x > 0).astype(int)
    y = (rng.random(n) < 0.3 + 0.1 * t).astype(float)
    data = AnalysisData(pd.DataFrame({"x": x}), t, y, "t", "y")
    everyone = np.ones(n, dtype=bool)
    assert "cannot rise" in what_if(data, everyone, 0.0, 0.9, settings=FAST)["refused"]["reason"]
    res = what_if(data, everyone, None, 0.6, settings=FAST)
    assert res["refused"] is not None and "no comparable" in res["refused"]["reason"]
