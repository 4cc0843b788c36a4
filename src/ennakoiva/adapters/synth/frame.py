"""The in-memory frame every sector generator reads: one postal area's people as numpy arrays.

Dates are int32 days since 1970-01-01 (Arrow's date32), -1 meaning "none". Sectors are generated
per postal area with their own random stream, so a city is identical whatever the chunking.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pyarrow as pa

__all__ = [
    "ACTIVITIES", "EDUCATION", "NO_DATE", "AreaPeople", "CityFrame", "SectorContext", "SectorOutput",
    "date32", "day", "nullable_date",
]

NO_DATE = -1
EPOCH = date(1970, 1, 1)
ACTIVITIES = ("child", "student", "employed", "unemployed", "pensioner", "other")
EDUCATION = ("basic", "upper_secondary", "tertiary_lower", "tertiary_higher")


def day(d: date) -> int:
    """Days since 1970-01-01."""
    return (d - EPOCH).days


def date32(days: np.ndarray) -> pa.Array:
    """int days -> Arrow date32 (no nulls)."""
    return pa.array(days.astype(np.int32), type=pa.int32()).cast(pa.date32())


def nullable_date(days: np.ndarray) -> pa.Array:
    """int days with NO_DATE for missing -> Arrow date32 with nulls."""
    arr = days.astype(np.int32)
    return pa.array(arr, type=pa.int32(), mask=arr == NO_DATE).cast(pa.date32())


@dataclass
class CityFrame:
    """City-level facts shared by all areas: service units and buildings (generated first)."""

    unit_id: np.ndarray
    unit_type: np.ndarray            # str objects
    unit_district: np.ndarray        # str objects
    unit_languages: np.ndarray       # str objects, e.g. "fi,sv"
    unit_capacity: np.ndarray

    def units_of(self, unit_type: str, district: str) -> np.ndarray:
        """Unit ids of a type in a district (falls back to all units of that type)."""
        mask = self.unit_type == unit_type
        local = mask & (self.unit_district == district)
        return self.unit_id[local] if local.any() else self.unit_id[mask]


@dataclass
class AreaPeople:
    """Everyone who lived in one postal area during the window (current and departed)."""

    area: int
    postal_code: str
    district_code: str
    person_id: np.ndarray            # int64
    birth: np.ndarray                # int32 days
    female: np.ndarray               # bool
    tongue: np.ndarray               # str objects (ISO 639-1)
    household: np.ndarray            # int index into the area's households
    is_child: np.ndarray             # bool: a minor living with guardians
    death: np.ndarray                # int32 days or NO_DATE
    move_out: np.ndarray             # int32 days or NO_DATE
    move_in: np.ndarray              # int32 days or NO_DATE
    activity: np.ndarray             # int8 index into ACTIVITIES (status on the extract date)
    education: np.ndarray            # int8 index into EDUCATION (-1 for children)
    household_id: np.ndarray         # int64 per household
    household_type: np.ndarray       # str objects per household
    guardian_pairs: np.ndarray       # (k, 2) local person indices: guardian, child
    spouse_pairs: np.ndarray         # (k, 2) local person indices
    latent: dict[str, np.ndarray] = field(default_factory=dict)  # sector-to-sector hidden traits

    @property
    def n(self) -> int:
        return len(self.person_id)

    def age_on(self, on_day: int) -> np.ndarray:
        """Completed years on a day (approximate: 365.25-day years)."""
        return np.floor((on_day - self.birth) / 365.25).astype(np.int32)

    def present_until(self) -> np.ndarray:
        """Last day each person was a resident (death or move-out, else far future)."""
        end = np.full(self.n, np.iinfo(np.int32).max, dtype=np.int64)
        end = np.where(self.death != NO_DATE, np.minimum(end, self.death), end)
        return np.where(self.move_out != NO_DATE, np.minimum(end, self.move_out), end)


@dataclass
class SectorContext:
    """What a sector generator gets: the area, the city, parameters, dates and earlier outputs."""

    people: AreaPeople
    city: CityFrame
    params: dict[str, Any]
    window_start: int
    as_of: int
    rng: np.random.Generator
    outputs: dict[str, pa.Table]     # tables already generated for this area, by name


@dataclass
class SectorOutput:
    """Tables for the city database and, separately, ground truth for the truth file."""

    tables: dict[str, pa.Table] = field(default_factory=dict)
    truth: dict[str, pa.Table] = field(default_factory=dict)
