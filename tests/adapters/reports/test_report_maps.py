"""Choropleths: every area drawn, suppressed areas marked as suppressed (never zero), attribution on the map."""

from __future__ import annotations

import json
from datetime import date
from itertools import pairwise
from pathlib import Path

import pyarrow as pa
import pytest

from ennakoiva.adapters.reports.drilldown import protect_groups
from ennakoiva.adapters.reports.maps import AREA_FILES, area_names, choropleth_spec, load_areas, render
from ennakoiva.adapters.reports.spec import file_spec
from ennakoiva.domain.disclosure import default_policy

ROOT = Path(__file__).resolve().parents[3]


def _drilldown(counts: dict[str, tuple[int, int]]) -> object:
    spec = file_spec("t", ["district", "flag"], by=["district"], measure="flag", areas={"district": "district"})
    result = pa.table({"g0": list(counts), "units": [d for _, d in counts.values()],
                       "denominator": [d for _, d in counts.values()], "numerator": [n for n, _ in counts.values()]})
    return protect_groups(result, spec, ["district"], "flag", default_policy(), date(2026, 11, 1))


def test_the_shipped_polygons_are_the_real_ones() -> None:
    districts, postal = load_areas("district"), load_areas("postal_area")
    assert len(districts["features"]) == 34 and len(postal["features"]) == 84
    assert area_names("district")["101"] == "Vironniemi"
    assert "CC BY 4.0" in districts["attribution"] and "CC BY 4.0" in postal["attribution"]
    for f in postal["features"]:  # reprojected to lon/lat around Helsinki
        geom = f["geometry"]
        ring = geom["coordinates"][0] if geom["type"] == "Polygon" else geom["coordinates"][0][0]
        assert all(24.7 < x < 25.3 and 60.0 < y < 60.35 for x, y in ring)
    for f in districts["features"]:  # exterior rings clockwise, as d3-geo (Vega-Lite) expects
        ring = f["geometry"]["coordinates"][0]
        area = sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in pairwise(ring))
        assert area < 0


def test_the_script_reproduces_the_shipped_files() -> None:
    import sys  # noqa: PLC0415

    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import derive_map_polygons as d  # noqa: PLC0415
    finally:
        sys.path.pop(0)
    for kind, collection in (("district", d.districts()), ("postal_area", d.postal_areas())):
        shipped = json.loads(AREA_FILES[kind].read_text(encoding="utf-8"))  # type: ignore[index]
        assert shipped == json.loads(json.dumps(collection))


def test_every_district_is_on_the_map_and_suppressed_ones_are_not_zero() -> None:
    codes = sorted(area_names("district"))
    counts = dict.fromkeys(codes[:-3], (30, 400))
    counts[codes[-3]] = (2, 300)   # a small count: suppressed
    counts[codes[-2]] = (20, 60)   # an area under the 100-resident floor: suppressed whole
    m = choropleth_spec(_drilldown(counts), "district")  # type: ignore[arg-type]
    features = {f["properties"]["code"]: f["properties"] for f in m.spec["datasets"]["areas"]}
    assert sorted(features) == codes
    assert features[codes[-1]]["status"] == "no data"
    for code in codes[-3:-1]:
        assert features[code]["status"] == "suppressed"
        assert features[code]["share_pct"] is None and features[code]["count"] is None
    assert features[codes[0]]["share_pct"] == 7.5
    assert any("CC BY 4.0" in line for line in m.spec["title"]["subtitle"])


@pytest.mark.slow
def test_the_map_renders_offline_with_its_attribution(tmp_path: Path) -> None:
    m = choropleth_spec(_drilldown(dict.fromkeys(area_names("district"), (40, 500))), "district")  # type: ignore[arg-type]
    svg = render(m.spec, tmp_path / "map.svg").read_text(encoding="utf-8")
    assert "Helsingin kaupunki" in svg and "CC BY 4.0" in svg
    assert svg.count("<path") >= 34
    png = render(m.spec, tmp_path / "map.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
