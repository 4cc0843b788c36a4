"""Job seekers drawn from the synthetic city's own planted model, with their true effects.

The estimators' properties need many rows fast; this draws backgrounds and then uses the city
generator's *own* assignment, outcome and effect functions (``adapters.synth.employment``), so the
truth here is exactly the city's truth — only the background mix is simplified.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ennakoiva.adapters.synth.calibration import load_params
from ennakoiva.adapters.synth.employment import (
    CEFR,
    SERVICES,
    Background,
    assignment_probabilities,
    p_no_service,
    service_effects,
)
from ennakoiva.adapters.synth.frame import EDUCATION
from ennakoiva.adapters.synth.sampling import categorical

__all__ = ["planted_frame"]


def planted_frame(n: int, seed: int) -> pd.DataFrame:
    """A frame shaped like ``city_frame`` plus truth columns ``tau_<service>``, ``p0`` and ``p_real``."""
    rng = np.random.default_rng(seed)
    prm = load_params()["employment"]
    foreign = rng.random(n) < 0.3
    finnish = np.where(foreign, rng.integers(0, 7, n), 7)
    age = rng.uniform(18, 64, n)
    bg = Background(age=age, female=rng.random(n) < 0.5, education=rng.choice(4, n, p=[0.25, 0.4, 0.2, 0.15]),
                    finnish=finnish, swedish=rng.integers(0, 6, n),
                    work_years=np.round(np.clip((age - 20) * rng.beta(6, 2, n), 0, 45), 1),
                    months_before=np.where(rng.random(n) < 0.4, np.minimum(rng.gamma(1.3, 9.0, n), 36), 0).astype(int),
                    area_dev=rng.normal(0, 0.03, n))
    service = categorical(rng, assignment_probabilities(bg, prm))
    p0 = p_no_service(bg, prm)
    eff = service_effects(bg, prm)
    p_real = p0 + np.where(service > 0, eff[np.arange(n), np.maximum(service - 1, 0)], 0.0)
    names = np.array(["none", *SERVICES], dtype=object)
    df = pd.DataFrame({
        "spell_id": np.arange(n), "person_id": np.arange(n) + 10**6, "age_at_start": age,
        "sex": np.where(bg.female, "F", "M"), "mother_tongue": np.where(foreign, "ar", "fi"),
        "education_level": np.array(EDUCATION, dtype=object)[bg.education],
        "finnish_skill": np.array(CEFR, dtype=object)[bg.finnish],
        "swedish_skill": np.array(CEFR, dtype=object)[bg.swedish],
        "work_history_years": bg.work_years, "months_unemployed_before": bg.months_before,
        "area_unemployment": 0.1 + bg.area_dev, "service": names[service],
        "employed_within_6m": (rng.random(n) < p_real).astype(int), "p0": p0, "p_real": p_real,
    })
    for j, s in enumerate(SERVICES):
        df[f"tau_{s}"] = eff[:, j]
    df["female"] = bg.female.astype(int)
    df["age_band"] = pd.cut(df["age_at_start"], [0, 25, 30, 50, 55, 200], right=False,
                            labels=["under 25", "25-29", "30-49", "50-54", "55+"]).astype(str)
    return df
