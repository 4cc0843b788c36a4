"""Derive the map polygons the reports ship from the real Helsinki open data (CC BY 4.0).

Reads the City of Helsinki basic districts (``peruspiirit.json``, already lon/lat) and the
Statistics Finland Paavo postal-area polygons (``helsinki_2023_statistics.geojson``, EPSG:3067,
ETRS-TM35FIN) from data/external/helsinki and writes two small WGS84 GeoJSON files to
src/ennakoiva/adapters/reports/data/, so that drawing a map at run time needs no projection
library. Only codes and names are kept; coordinates are rounded to 5 decimals (about 1 m).

Why the rings are re-oriented: Vega-Lite draws ``geoshape`` with d3-geo, which reads a polygon on
the sphere and takes a counter-clockwise exterior ring (the RFC 7946 order of the WFS output) as
"everything except this area" — the map would fill the whole globe. Exterior rings are written
clockwise, holes counter-clockwise, as d3 expects.

Why no pyproj: the inverse transverse Mercator on GRS80 is a few lines (Krüger's series, the
formulas of JHS 197 / Karney 2011 to the third order in n, well below a millimetre inside
Finland); ``--check`` compares it with pyproj when that is installed (``pip install -e '.[calibrate]'``).

Run: .venv/bin/python scripts/derive_map_polygons.py
"""

from __future__ import annotations

import argparse
import json
import math
from itertools import pairwise
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "data/external/helsinki"
DISTRICTS = SOURCE / "piirijako/peruspiirit.json"
POSTAL = SOURCE / "paavo/helsinki_2023_statistics.geojson"
OUT = ROOT / "src/ennakoiva/adapters/reports/data"

ATTRIBUTION = {
    "district": "© Helsingin kaupunki / City of Helsinki, aluejaot (Piirijako), CC BY 4.0",
    "postal_area": "Source: Statistics Finland, Paavo – open data by postal code area, 2023, CC BY 4.0",
}

# GRS80 ellipsoid and the ETRS-TM35FIN projection (EPSG:3067).
_A = 6_378_137.0
_F = 1 / 298.257222101
_LON0 = math.radians(27.0)
_K0 = 0.9996
_FALSE_EASTING = 500_000.0
_N = _F / (2 - _F)
_RECT = _A / (1 + _N) * (1 + _N**2 / 4 + _N**4 / 64)
_BETA = (_N / 2 - 2 * _N**2 / 3 + 37 * _N**3 / 96, _N**2 / 48 + _N**3 / 15, 17 * _N**3 / 480)
_DELTA = (2 * _N - 2 * _N**2 / 3 - 2 * _N**3, 7 * _N**2 / 3 - 8 * _N**3 / 5, 56 * _N**3 / 15)


def tm35fin_to_lonlat(easting: float, northing: float) -> tuple[float, float]:
    """Inverse ETRS-TM35FIN: metres to WGS84 degrees (ETRS89 = WGS84 at map precision).

    The centre point of postal area 00100 in Paavo 2023 (pyproj gives 24.92688, 60.17190):

    >>> lon, lat = tm35fin_to_lonlat(384_979.0, 6_672_361.0)
    >>> round(lon, 5), round(lat, 5)
    (24.92688, 60.1719)
    """
    xi = northing / (_K0 * _RECT)
    eta = (easting - _FALSE_EASTING) / (_K0 * _RECT)
    xi_p = xi - sum(b * math.sin(2 * j * xi) * math.cosh(2 * j * eta) for j, b in enumerate(_BETA, 1))
    eta_p = eta - sum(b * math.cos(2 * j * xi) * math.sinh(2 * j * eta) for j, b in enumerate(_BETA, 1))
    chi = math.asin(math.sin(xi_p) / math.cosh(eta_p))
    lat = chi + sum(d * math.sin(2 * j * chi) for j, d in enumerate(_DELTA, 1))
    lon = _LON0 + math.atan2(math.sinh(eta_p), math.cos(xi_p))
    return math.degrees(lon), math.degrees(lat)


def _signed_area(ring: list[list[float]]) -> float:
    return sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in pairwise(ring)) / 2


def _orient(ring: list[list[float]], clockwise: bool) -> list[list[float]]:
    is_clockwise = _signed_area(ring) < 0
    return ring if is_clockwise == clockwise else ring[::-1]


def _polygon(rings: list[Any], convert: bool) -> list[list[list[float]]]:
    out = []
    for i, ring in enumerate(rings):
        pts = [list(tm35fin_to_lonlat(x, y)) if convert else [x, y] for x, y, *_ in ring]
        pts = [[round(x, 5), round(y, 5)] for x, y in pts]
        out.append(_orient(pts, clockwise=(i == 0)))
    return out


def _geometry(geom: dict[str, Any], convert: bool) -> dict[str, Any]:
    if geom["type"] == "Polygon":
        return {"type": "Polygon", "coordinates": _polygon(geom["coordinates"], convert)}
    if geom["type"] == "MultiPolygon":
        return {"type": "MultiPolygon", "coordinates": [_polygon(p, convert) for p in geom["coordinates"]]}
    raise ValueError(f"unexpected geometry {geom['type']}")


def districts() -> dict[str, Any]:
    src = json.loads(DISTRICTS.read_text(encoding="utf-8"))
    features = [{"type": "Feature",
                 "properties": {"code": f["properties"]["tunnus"], "name_fi": f["properties"]["nimi_fi"].title(),
                                "name_sv": f["properties"]["nimi_se"].title()},
                 "geometry": _geometry(f["geometry"], convert=False)} for f in src["features"]]
    features.sort(key=lambda f: f["properties"]["code"])
    return {"type": "FeatureCollection", "name": "helsinki_basic_districts",
            "attribution": ATTRIBUTION["district"], "source": "data/external/helsinki/piirijako/peruspiirit.json",
            "features": features}


def postal_areas() -> dict[str, Any]:
    src = json.loads(POSTAL.read_text(encoding="utf-8"))
    features = [{"type": "Feature",
                 "properties": {"code": f["properties"]["postal_code"], "name_fi": f["properties"]["name"]},
                 "geometry": _geometry(f["geometry"], convert=True)} for f in src["features"]]
    features.sort(key=lambda f: f["properties"]["code"])
    return {"type": "FeatureCollection", "name": "helsinki_postal_areas", "attribution": ATTRIBUTION["postal_area"],
            "source": "data/external/helsinki/paavo/helsinki_2023_statistics.geojson (EPSG:3067 → WGS84)",
            "features": features}


def check_against_pyproj() -> float:
    """Largest difference in degrees between this projection and pyproj's over every vertex."""
    from pyproj import Transformer  # noqa: PLC0415 - optional, only for --check

    t = Transformer.from_crs("EPSG:3067", "EPSG:4326", always_xy=True)
    worst = 0.0
    for f in json.loads(POSTAL.read_text(encoding="utf-8"))["features"]:
        geom = f["geometry"]
        polys = geom["coordinates"] if geom["type"] == "MultiPolygon" else [geom["coordinates"]]
        for poly in polys:
            for ring in poly:
                for x, y, *_ in ring:
                    a, b = tm35fin_to_lonlat(x, y), t.transform(x, y)
                    worst = max(worst, abs(a[0] - b[0]), abs(a[1] - b[1]))
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare the projection with pyproj")
    args = parser.parse_args()
    if args.check:
        print(f"largest difference from pyproj: {check_against_pyproj():.2e} degrees")
    OUT.mkdir(parents=True, exist_ok=True)
    for name, collection in (("districts", districts()), ("postal_areas", postal_areas())):
        path = OUT / f"{name}.geojson"
        path.write_text(json.dumps(collection, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
        print(f"{len(collection['features'])} features → {path.relative_to(ROOT)} ({path.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
