"""The shipped calibration table (from Paavo 2023, CC BY 4.0) and the documented parameters."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import yaml

__all__ = ["AGE_BAND_EDGES", "Calibration", "load_calibration", "load_params", "window_start_for"]

DATA = Path(__file__).resolve().parent / "data"
PARAMS = Path(__file__).resolve().parent / "params.yaml"

# Paavo's 20 age bands as [lower, upper) in whole years; the last band is 85–100.
AGE_BAND_EDGES = np.array([0, 3, 7, 13, 16, 18, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75, 80, 85, 101])
AGE_BAND_COLUMNS = [
    "age_0_2", "age_3_6", "age_7_12", "age_13_15", "age_16_17", "age_18_19", "age_20_24", "age_25_29",
    "age_30_34", "age_35_39", "age_40_44", "age_45_49", "age_50_54", "age_55_59", "age_60_64", "age_65_69",
    "age_70_74", "age_75_79", "age_80_84", "age_85_",
]


@dataclass(frozen=True)
class Calibration:
    """Per postal area arrays (index = area index, sorted by postal code)."""

    postal_code: list[str]
    postal_name: list[str]
    district_code: list[str]
    district_name_fi: list[str]
    lon: np.ndarray
    lat: np.ndarray
    inhabitants: np.ndarray          # int
    age_bands: np.ndarray            # (areas, 20) int counts
    males: np.ndarray
    females: np.ndarray
    households: np.ndarray
    hh_one_person: np.ndarray
    hh_with_children: np.ndarray
    hh_one_parent: np.ndarray
    median_income: np.ndarray
    employed: np.ndarray
    unemployed: np.ndarray
    students: np.ndarray
    pensioners: np.ndarray
    education: np.ndarray            # (areas, 4): basic, upper_secondary, tertiary_lower, tertiary_higher
    floor_area_per_person: np.ndarray

    @property
    def n_areas(self) -> int:
        return len(self.postal_code)


@cache
def load_calibration() -> Calibration:
    """Read data/helsinki_postal_areas.csv (written by scripts/derive_calibration.py)."""
    with (DATA / "helsinki_postal_areas.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))

    def col(name: str, dtype: Any = np.int64) -> np.ndarray:
        return np.array([float(r[name]) for r in rows]).astype(dtype)

    education = np.stack([
        col("edu_basic"),
        col("edu_matriculation") + col("edu_vocational"),
        col("edu_tertiary_lower"),
        col("edu_tertiary_higher"),
    ], axis=1).astype(np.float64)
    # Paavo counts people over 18 with a degree; "basic" are those without one.
    education[:, 0] = np.maximum(col("adults_edu") - education[:, 1:].sum(axis=1), 1)
    return Calibration(
        postal_code=[r["postal_code"] for r in rows],
        postal_name=[r["postal_name"] for r in rows],
        district_code=[r["district_code"] for r in rows],
        district_name_fi=[r["district_name_fi"] for r in rows],
        lon=col("lon", np.float64), lat=col("lat", np.float64),
        inhabitants=col("inhabitants"),
        age_bands=np.stack([col(c) for c in AGE_BAND_COLUMNS], axis=1),
        males=col("males"), females=col("females"),
        households=col("households"), hh_one_person=col("hh_one_person"),
        hh_with_children=col("hh_with_children"), hh_one_parent=col("hh_one_parent"),
        median_income=col("median_income", np.float64),
        employed=col("employed"), unemployed=col("unemployed"), students=col("students"),
        pensioners=col("pensioners"), education=education,
        floor_area_per_person=col("floor_area_per_person", np.float64),
    )


@cache
def _params_cached(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as fh:
        data: dict[str, Any] = yaml.safe_load(fh)
    return data


def load_params(path: Path = PARAMS) -> dict[str, Any]:
    """The documented parameters (params.yaml)."""
    return _params_cached(path)


def window_start_for(as_of: date, params: dict[str, Any]) -> date:
    """First day of the event window: ``window_years`` before the extract date (29 Feb -> 28 Feb)."""
    years = int(params["dynamics"]["window_years"])
    try:
        return as_of.replace(year=as_of.year - years)
    except ValueError:
        return as_of.replace(year=as_of.year - years, day=28)
