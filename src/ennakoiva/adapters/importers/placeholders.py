"""What an importer fills in where the source has nothing the registry requires.

Synthea's patients live in Massachusetts and FHIR Patients rarely carry a Finnish address, but the
registry requires a municipality, basic district and postal code for every person and unit. These
are filled in *deterministically* and *visibly*: the municipality is Helsinki (091), and the postal
area is picked from Helsinki's 84 real postal areas (with the district that contains it) by a
stable hash of the source id, so a re-import assigns the same area and the placements spread over
the city rather than piling into one area. Every load report says how many were assigned: they are
synthetic, and no analysis should read them as where anyone lives. Mother tongue, when the source
states none (Synthea CSV never does), is ``en``: the synthetic patients are American.
"""

from __future__ import annotations

from datetime import date
from functools import cache

from ennakoiva.adapters.importers.ids import stable_id
from ennakoiva.adapters.synth.calibration import load_calibration
from ennakoiva.domain.clock import age_on

__all__ = ["PLACEHOLDER_LANGUAGE", "PLACEHOLDER_MUNICIPALITY", "Area", "district_of", "household_type",
           "placeholder_area"]

PLACEHOLDER_MUNICIPALITY = "091"  # Helsinki
PLACEHOLDER_LANGUAGE = "en"
PENSION_AGE = 65

Area = tuple[str, str]  # (postal code, district code)


@cache
def _areas() -> tuple[Area, ...]:
    calibration = load_calibration()
    return tuple(zip(calibration.postal_code, calibration.district_code, strict=True))


def placeholder_area(salt: str, key: str) -> Area:
    """A Helsinki postal area and its basic district, chosen by a stable hash of ``key``.

    >>> placeholder_area("s", "patient-1") == placeholder_area("s", "patient-1")
    True
    >>> postal, district = placeholder_area("s", "x"); len(postal), len(district)
    (5, 3)
    """
    areas = _areas()
    return areas[stable_id(salt, "area", key) % len(areas)]


def district_of(postal_code: str) -> str | None:
    """The Helsinki basic district of a postal code, or None outside Helsinki.

    >>> district_of("00100"), district_of("99999")
    ('103', None)
    """
    return dict(_areas()).get(postal_code)


def household_type(birth: date, as_of: date) -> str:
    """The type of a one-person household: a pensioner from 65 on.

    >>> household_type(date(1950, 1, 1), date(2024, 1, 1)), household_type(date(1990, 1, 1), date(2024, 1, 1))
    ('single_pensioner', 'single_adult')
    """
    return "single_pensioner" if age_on(birth, as_of) >= PENSION_AGE else "single_adult"
