"""The analyst's report and drill-down explorer, and the overview's district map.

Both call the analytics ladder's platform functions (``platform.reports``): every number shown
has passed disclosure control, and every request is decided and logged in the analyst's name. Maps
are Vega-Lite specs of Helsinki's real district polygons, rendered to SVG on the server.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from ennakoiva.adapters.reports.maps import to_svg
from ennakoiva.domain.types import Lang
from ennakoiva.interfaces.api.deps import Analyst, PlatformDep, Staff
from ennakoiva.interfaces.api.problems import ProblemError
from ennakoiva.interfaces.web.rendering import page, page_lang
from ennakoiva.platform.reports import STATISTICS_ACTOR, CitySource, analytics_catalogue, choropleth, drilldown
from ennakoiva.platform.settings import Settings

__all__ = ["OVERVIEW_MAP_MEASURE", "router"]

router = APIRouter(include_in_schema=False)
PURPOSE = "open-data-statistics"
OVERVIEW_MAP_MEASURE = ("residents", "jobseeker")


def _spec(specs: list[dict[str, Any]], spec_id: str) -> dict[str, Any]:
    found = next((s for s in specs if s["id"] == spec_id), None)
    if found is None:
        raise ProblemError(404, "unknown_report", "no such report")
    return found


@router.get("/reports")
def reports_page(request: Request, user: Analyst, platform: PlatformDep,
                 spec: Annotated[str, Query(max_length=60)] = "residents",
                 by: Annotated[list[str] | None, Query(max_length=3)] = None,
                 measure: Annotated[str | None, Query(max_length=60)] = None) -> HTMLResponse:
    lang = page_lang(request)
    specs = analytics_catalogue(lang)
    chosen = _spec(specs, spec)
    dims = [d for d in (by or ["district"]) if d]
    measure = measure or None
    if platform.city_path is None:
        raise ProblemError(503, "no_city", "no city database")
    try:
        result = drilldown(CitySource(platform.city_path, spec), dims, measure, settings=platform.settings,
                           actor=user.actor(PURPOSE), lang=lang)
    except (ValueError, KeyError) as exc:
        raise ProblemError(400, "invalid_report", str(exc)[:300]) from None
    area = next((d["area"] for d in chosen["dimensions"] if [d["id"]] == dims and d["area"]), None)
    return page(request, "reports.html", user, specs=specs, chosen=chosen, dims=dims, measure=measure,
                result=result.public(), area=area)


@router.get("/charts/report-map.svg")
def report_map(request: Request, user: Analyst, platform: PlatformDep,
               spec: Annotated[str, Query(max_length=60)] = "residents",
               area: Annotated[str, Query(pattern="^(district|postal_area)$")] = "district",
               measure: Annotated[str | None, Query(max_length=60)] = None) -> Response:
    if platform.city_path is None:
        raise ProblemError(503, "no_city", "no city database")
    try:
        result = choropleth(CitySource(platform.city_path, spec), measure or None, area=area,  # type: ignore[arg-type]
                            lang=page_lang(request), settings=platform.settings, actor=user.actor(PURPOSE))
    except (ValueError, KeyError) as exc:
        raise ProblemError(400, "invalid_report", str(exc)[:300]) from None
    return Response(to_svg(result.spec), media_type="image/svg+xml")


_MAPS: dict[tuple[Path, str, Lang], str] = {}
_MAPS_LOCK = threading.Lock()


def _overview_map(db: Path, stamp: str, lang: Lang, settings: Settings) -> str:
    """Drawn once per database, extract date and language; a new extract date draws it anew."""
    key = (db, stamp, lang)
    with _MAPS_LOCK:
        if key not in _MAPS:
            spec, measure = OVERVIEW_MAP_MEASURE
            result = choropleth(CitySource(db, spec), measure, area="district", lang=lang, settings=settings,
                                actor=STATISTICS_ACTOR)
            if len(_MAPS) > 16:
                _MAPS.clear()
            _MAPS[key] = to_svg(result.spec)
        return _MAPS[key]


@router.get("/charts/overview-map.svg")
def overview_map(request: Request, user: Staff, platform: PlatformDep) -> Response:
    """The overview's district map, drawn once per extract date and language (a statistics run)."""
    if platform.city_path is None or platform.overview.as_of is None:
        raise ProblemError(404, "no_city", "no overview figures")
    svg = _overview_map(platform.city_path, platform.overview.as_of.isoformat(), page_lang(request),
                        platform.settings)
    return Response(svg, media_type="image/svg+xml")

