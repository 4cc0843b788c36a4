"""The efficiency bound of the planted effects, against its closed form where the design makes it simple."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ennakoiva.adapters.synth.calibration import load_params
from ennakoiva.adapters.synth.employment import SERVICES, assignment_probabilities
from ennakoiva.adapters.synth.employment_bound import _background, efficiency_bounds


def _identical_people(n: int, service_of: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    frame = pd.DataFrame({"service": service_of, "age_at_start": 40.0, "sex": "F", "education_level": "basic",
                          "finnish_skill": "A2", "work_history_years": 5.0, "months_unemployed_before": 14})
    under = {f"p_employed_6m_under_{s}": np.full(n, 0.3 + 0.05 * (j + 1)) for j, s in enumerate(SERVICES)}
    truth = pd.DataFrame({"p_employed_6m_no_service": np.full(n, 0.3)} | under)
    return frame, truth


def test_identical_people_give_the_textbook_variance() -> None:
    """One background for everyone: e and the outcome probabilities are constants, so the ATE bound is
    sqrt((μ1(1−μ1)/e + μ0(1−μ0)/(1−e)) / n) and the ATT bound sqrt(μ1(1−μ1)/(n p) + e μ0(1−μ0)/((1−e) n p))."""
    rng = np.random.default_rng(0)
    n = 4000
    services = list(rng.choice(["none", *SERVICES], n))
    frame, truth = _identical_people(n, services)
    e_all = assignment_probabilities(_background(frame.head(1)), load_params()["employment"])[0]
    bounds = {(b.service, b.estimand): b for b in efficiency_bounds(frame, truth)}
    for j, s in enumerate(SERVICES, start=1):
        keep = int(np.isin(services, [s, "none"]).sum())
        e = e_all[j] / (e_all[j] + e_all[0])
        m1, m0 = 0.3 + 0.05 * j, 0.3
        ate = np.sqrt((m1 * (1 - m1) / e + m0 * (1 - m0) / (1 - e)) / keep)
        att = np.sqrt((e * m1 * (1 - m1) + e**2 * m0 * (1 - m0) / (1 - e)) / e**2 / keep)
        assert bounds[(s, "ate")].se == pytest.approx(ate, rel=1e-9)
        assert bounds[(s, "att")].se == pytest.approx(att, rel=1e-9)
        assert bounds[(s, "ate")].truth == pytest.approx(0.05 * j)
        assert 0 < bounds[(s, "ate")].within() < 1


def test_more_people_tighter_bound_and_misaligned_truth_refused() -> None:
    small = efficiency_bounds(*_identical_people(1000, ["none", "coaching"] * 500))
    large = efficiency_bounds(*_identical_people(4000, ["none", "coaching"] * 2000))
    s = {(b.service, b.estimand): b.se for b in small}
    big = {(b.service, b.estimand): b.se for b in large}
    assert big[("coaching", "ate")] == pytest.approx(s[("coaching", "ate")] / 2, rel=1e-9)
    frame, truth = _identical_people(10, ["none"] * 10)
    with pytest.raises(ValueError, match="row-aligned"):
        efficiency_bounds(frame, truth.head(5))
