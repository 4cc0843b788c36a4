"""Derive the synthetic city's calibration table from the real Helsinki open data.

Reads Statistics Finland's Paavo 2023 postal-area file (Latin-1) and the City of Helsinki's basic
district polygons (both CC BY 4.0, in data/external/helsinki), assigns each postal area to the basic
district containing its Paavo centre point, and writes one row per postal area to
src/ennakoiva/adapters/synth/data/helsinki_postal_areas.csv.

Run: .venv/bin/pip install -e '.[calibrate]' && .venv/bin/python scripts/derive_calibration.py
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path

from pyproj import Transformer
from shapely.geometry import Point, shape

ROOT = Path(__file__).resolve().parent.parent
PAAVO = ROOT / "data/external/helsinki/paavo/009_12f7_2023_all.csv"
DISTRICTS = ROOT / "data/external/helsinki/piirijako/peruspiirit.json"
OUT = ROOT / "src/ennakoiva/adapters/synth/data/helsinki_postal_areas.csv"

AGE_BANDS = ["0-2", "3-6", "7-12", "13-15", "16-17", "18-19", "20-24", "25-29", "30-34", "35-39", "40-44",
             "45-49", "50-54", "55-59", "60-64", "65-69", "70-74", "75-79", "80-84"]
FIELDS = {
    "X coordinate": "x_tm35", "Y coordinate": "y_tm35",
    "Inhabitants, total (HE)": "inhabitants", "Males (HE)": "males", "Females (HE)": "females",
    **{f"{band} years (HE)": f"age_{band.replace('-', '_')}" for band in AGE_BANDS},
    "85 years or over (HE)": "age_85_",
    "Aged 18 or over, total (KO)": "adults_edu", "Basic level studies (KO)": "edu_basic",
    "Matriculation examination (KO)": "edu_matriculation", "Vocational diploma (KO)": "edu_vocational",
    "Academic degree - Lowest level tertiary and lower university level degrees (KO)": "edu_tertiary_lower",
    "Academic degree - Higher university level degree (KO)": "edu_tertiary_higher",
    "Median income of inhabitants (HR)": "median_income", "Average income of inhabitants (HR)": "mean_income",
    "Households, total (TE)": "households", "Average size of households (TE)": "household_size",
    "Average floor area per person (TE)": "floor_area_per_person",
    "One-person households (TE)": "hh_one_person", "Households with children (TE)": "hh_with_children",
    "One-parent households with children (TE)": "hh_one_parent", "Pensioner households (TE)": "hh_pensioner",
    "Employed (PT)": "employed", "Unemployed (PT)": "unemployed", "Students (PT)": "students",
    "Pensioners (PT)": "pensioners",
}


def read_paavo() -> dict[str, dict[str, str]]:
    areas: dict[str, dict[str, str]] = defaultdict(dict)
    with PAAVO.open(encoding="latin-1", newline="") as fh:
        rows = list(csv.reader(fh))
    for row in rows[3:]:
        if len(row) != 3:
            continue
        label, info, value = row
        code, name = label[:5], label[5:].strip().removesuffix(" (Helsinki)")
        areas[code]["name"] = name
        if info in FIELDS:
            areas[code][FIELDS[info]] = value
    return areas


def main() -> None:
    to_lonlat = Transformer.from_crs("EPSG:3067", "EPSG:4326", always_xy=True)
    features = json.loads(DISTRICTS.read_text(encoding="utf-8"))["features"]
    polygons = [(f["properties"]["tunnus"], f["properties"]["nimi_fi"].title(), f["properties"]["nimi_se"],
                 shape(f["geometry"])) for f in features]
    out_rows = []
    for code, area in sorted(read_paavo().items()):
        lon, lat = to_lonlat.transform(float(area["x_tm35"]), float(area["y_tm35"]))
        point = Point(lon, lat)
        containing = [p for p in polygons if p[3].contains(point)]
        district = containing[0] if containing else min(polygons, key=lambda p: p[3].distance(point))
        out_rows.append({"postal_code": code, "postal_name": area["name"], "district_code": district[0],
                         "district_name_fi": district[1], "district_name_sv": district[2].title(),
                         "lon": round(lon, 5), "lat": round(lat, 5),
                         **{v: area[v] for v in FIELDS.values() if v not in ("x_tm35", "y_tm35")}})
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(out_rows[0]))
        writer.writeheader()
        writer.writerows(out_rows)
    districts = {r["district_code"] for r in out_rows}
    print(f"wrote {len(out_rows)} postal areas in {len(districts)} basic districts to {OUT}")


if __name__ == "__main__":
    main()
