"""Choropleth maps of a protected drill-down over Helsinki's real area polygons (Vega-Lite).

The polygons ship with the package (``data/districts.geojson``: the 34 basic districts,
``data/postal_areas.geojson``: the 84 Paavo postal areas, both WGS84, derived from
data/external/helsinki by ``scripts/derive_map_polygons.py``), so a map needs no network, no tile
server and no projection library. Every map carries the CC BY 4.0 attribution of its polygons.

An area is drawn in one of three ways: its share (a sequential colour), *suppressed* (grey with a
dashed outline — never as zero), or *no data* (the request had no units there).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from ennakoiva.adapters.reports.drilldown import Drilldown
from ennakoiva.adapters.reports.spec import AreaKind
from ennakoiva.domain.types import Lang

__all__ = ["AREA_FILES", "MapResult", "area_names", "choropleth_spec", "load_areas", "render", "to_svg"]

DATA_DIR = Path(__file__).resolve().parent / "data"
AREA_FILES: dict[AreaKind, Path] = {"district": DATA_DIR / "districts.geojson",
                                    "postal_area": DATA_DIR / "postal_areas.geojson"}
PUBLISHED, SUPPRESSED, NO_DATA = "published", "suppressed", "no data"
_LABELS: dict[Lang, dict[str, str]] = {
    "fi": {SUPPRESSED: "salattu (tietosuoja)", NO_DATA: "ei tietoja", "share": "osuus %", "legend": "Ei näytetä"},
    "sv": {SUPPRESSED: "skyddad (röjandeskydd)", NO_DATA: "inga uppgifter", "share": "andel %", "legend": "Visas inte"},
    "en": {SUPPRESSED: "suppressed (disclosure control)", NO_DATA: "no data", "share": "share %",
           "legend": "Not shown"},
}


@cache
def load_areas(kind: AreaKind) -> dict[str, Any]:
    """The shipped GeoJSON FeatureCollection of one area kind (with its ``attribution``)."""
    data: dict[str, Any] = json.loads(AREA_FILES[kind].read_text(encoding="utf-8"))
    return data


def area_names(kind: AreaKind, lang: Lang = "fi") -> dict[str, str]:
    """Code → name (Finnish, or Swedish where the polygons have it)."""
    key = "name_sv" if lang == "sv" else "name_fi"
    return {f["properties"]["code"]: f["properties"].get(key) or f["properties"]["name_fi"]
            for f in load_areas(kind)["features"]}


class MapResult(BaseModel):
    """A map: the Vega-Lite spec, the drill-down drawn, and area codes that have no polygon."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    spec: dict[str, Any]
    drilldown: Drilldown
    area: AreaKind
    attribution: str
    unmapped: list[str]

    def status_counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for f in self.spec["datasets"]["areas"]:
            out[f["properties"]["status"]] = out.get(f["properties"]["status"], 0) + 1
        return out


def choropleth_spec(dd: Drilldown, kind: AreaKind, *, lang: Lang = "en", width: int = 560,
                    height: int = 520) -> MapResult:
    """The Vega-Lite spec of a one-dimension drill-down whose dimension is an area of ``kind``."""
    if len(dd.by) != 1:
        raise ValueError("a map draws a drill-down by exactly one area dimension")
    dim = dd.by[0]
    collection = load_areas(kind)
    labels = _LABELS[lang]
    by_code = {r.labels[dim]: r for r in dd.body()}
    features = []
    for f in collection["features"]:
        code = f["properties"]["code"]
        row = by_code.get(code)
        if row is None:
            status = NO_DATA
        elif row.count is None or row.share is None:
            status = SUPPRESSED
        else:
            status = PUBLISHED
        props = {**f["properties"], "status": status, "status_label": labels.get(status, ""),
                 "share_pct": round(100 * row.share, 1) if status == PUBLISHED and row and row.share is not None
                 else None,
                 "count": row.count if row and status == PUBLISHED else None,
                 "denominator": row.denominator if row and status == PUBLISHED else None}
        features.append({"type": "Feature", "properties": props, "geometry": f["geometry"]})
    known = {f["properties"]["code"] for f in collection["features"]}
    unmapped = sorted(c for c in by_code if c not in known)
    attribution = collection["attribution"]
    tooltip = [{"field": "properties.code", "title": "code"}, {"field": "properties.name_fi", "title": "name"},
               {"field": "properties.share_pct", "title": labels["share"]},
               {"field": "properties.count", "title": dd.count_name},
               {"field": "properties.denominator", "title": dd.denominator_name},
               {"field": "properties.status_label", "title": "status"}]
    grey = {"field": "properties.status_label", "type": "nominal", "title": labels["legend"],
            "scale": {"domain": [labels[SUPPRESSED], labels[NO_DATA]], "range": ["#9e9e9e", "#f2f2f2"]}}
    subtitle = [f"{dd.count_name} / {dd.denominator_name}, {dd.reference_date.isoformat()}",
                f"Disclosure control: policy {dd.policy_id}, threshold {dd.threshold}; grey = suppressed, not zero",
                f"Map: {attribution}"]
    spec: dict[str, Any] = {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "title": {"text": dd.title, "subtitle": subtitle, "anchor": "start", "subtitleFontSize": 10},
        "width": width, "height": height,
        "datasets": {"areas": features},
        "data": {"name": "areas"},
        "projection": {"type": "mercator"},
        "layer": [
            {"transform": [{"filter": f"datum.properties.status != '{PUBLISHED}'"}],
             "mark": {"type": "geoshape", "stroke": "#424242", "strokeWidth": 0.6, "strokeDash": [3, 2]},
             "encoding": {"color": grey, "tooltip": tooltip}},
            {"transform": [{"filter": f"datum.properties.status == '{PUBLISHED}'"}],
             "mark": {"type": "geoshape", "stroke": "white", "strokeWidth": 0.6},
             "encoding": {"color": {"field": "properties.share_pct", "type": "quantitative", "title": labels["share"],
                                    "scale": {"scheme": "blues", "zero": True}},
                          "tooltip": tooltip}},
        ],
        "usermeta": {"attribution": attribution, "area": kind, "policy": dd.policy_id, "threshold": dd.threshold},
    }
    return MapResult(spec=spec, drilldown=dd, area=kind, attribution=attribution, unmapped=unmapped)


def to_svg(spec: dict[str, Any]) -> str:
    """The map as SVG text (for a web page), rendered offline by vl-convert."""
    import vl_convert as vlc  # noqa: PLC0415 - the renderer loads a JS engine; only needed for images

    return str(vlc.vegalite_to_svg(spec))


def render(spec: dict[str, Any], path: Path) -> Path:
    """Write the map as ``.svg``, ``.png`` (rendered offline by vl-convert) or ``.json`` (the spec)."""
    suffix = path.suffix.lower()
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".json":
        path.write_text(json.dumps(spec, ensure_ascii=False) + "\n", encoding="utf-8")
        return path
    import vl_convert as vlc  # noqa: PLC0415 - the renderer loads a JS engine; only needed for images

    if suffix == ".svg":
        path.write_text(to_svg(spec), encoding="utf-8")
    elif suffix == ".png":
        path.write_bytes(vlc.vegalite_to_png(spec, scale=2))
    else:
        raise ValueError(f"map output must be .svg, .png or .json, not {path.name}")
    return path
