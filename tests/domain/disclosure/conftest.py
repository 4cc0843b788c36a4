"""Real Paavo releases (2022, 2023) as age band x postal area frequency tables."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from ennakoiva.domain.disclosure import FrequencyTable

PAAVO_DIR = Path(__file__).resolve().parents[3] / "data" / "external" / "helsinki" / "paavo"
AGE_BANDS = (
    "0-2", "3-6", "7-12", "13-15", "16-17", "18-19", "20-24", "25-29", "30-34", "35-39", "40-44", "45-49",
    "50-54", "55-59", "60-64", "65-69", "70-74", "75-79", "80-84", "85 years or over",
)


def paavo_age_table(year: int) -> FrequencyTable:
    """Inhabitants by postal area (rows) and age band (columns) from the long-format Paavo file."""
    path = PAAVO_DIR / f"009_12f7_{year}_all.csv"
    with path.open(encoding="latin-1", newline="") as fh:
        rows = list(csv.reader(fh))
    labels = {band: band if band.endswith("over") else f"{band} years" for band in AGE_BANDS}
    wanted = {f"{label} (HE)": band for band, label in labels.items()}
    counts: dict[str, dict[str, int]] = {}
    for row in rows:
        if len(row) == 3 and row[1] in wanted:
            area = row[0].split()[0]
            counts.setdefault(area, {})[wanted[row[1]]] = int(row[2])
    areas = tuple(sorted(counts))
    assert all(len(counts[a]) == len(AGE_BANDS) for a in areas)
    return FrequencyTable(
        name=f"paavo_{year}_age_by_postal_area", row_dimension="postal_area", col_dimension="age_band",
        rows=areas, cols=AGE_BANDS, counts=tuple(tuple(counts[a][b] for b in AGE_BANDS) for a in areas),
        area_axis="rows",
    )


@pytest.fixture(scope="session")
def paavo_2022() -> FrequencyTable:
    return paavo_age_table(2022)


@pytest.fixture(scope="session")
def paavo_2023() -> FrequencyTable:
    return paavo_age_table(2023)
