"""Shared fixtures: one small synthetic city per test session (per xdist worker)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from ennakoiva.adapters.synth.city import SynthResult
from ennakoiva.platform.synthesis import synthesise_city

SMALL_CITY_RESIDENTS = 30_000
SMALL_CITY_SEED = 7


@dataclass(frozen=True)
class SmallCity:
    db: Path
    truth: Path
    result: SynthResult


@pytest.fixture(scope="session")
def small_city(tmp_path_factory: pytest.TempPathFactory) -> SmallCity:
    """A 30 000-resident city with every sector, built once and opened read-only by tests."""
    root = tmp_path_factory.mktemp("city")
    db, truth = root / "city.duckdb", root / "truth.duckdb"
    result = synthesise_city(db, truth, residents=SMALL_CITY_RESIDENTS, seed=SMALL_CITY_SEED)
    return SmallCity(db, truth, result)
