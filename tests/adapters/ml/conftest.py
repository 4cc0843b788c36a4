"""Fixtures of the ML adapter tests: planted job seekers (fast) and the small city's frame."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from ml_planted import planted_frame

from ennakoiva.adapters.engine import DuckDBEngine
from ennakoiva.adapters.engine.jobseeker_frame import jobseeker_frame
from ennakoiva.adapters.ml.frame import city_frame


@pytest.fixture(scope="session")
def planted() -> pd.DataFrame:
    """30 000 job seekers from the city's planted model (truth columns tau_*, p0, p_real)."""
    return planted_frame(30_000, seed=11)


@pytest.fixture(scope="session")
def small_frame(small_city: Any) -> pd.DataFrame:
    """The small city's job-seeker frame (complete follow-up), as the analysis sees it."""
    with DuckDBEngine(small_city.db, read_only=True) as engine:
        return city_frame(jobseeker_frame(engine))
