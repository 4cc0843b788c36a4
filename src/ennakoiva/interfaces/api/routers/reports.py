"""Reports and drill-downs (disclosure control applied), for analysts; the figures, never rows.

Each drill-down is a population-level read decided and logged under ``open-data-statistics`` in the
analyst's own name; suppressed cells come back as ``null`` with the note "suppressed".
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from ennakoiva.interfaces.api.deps import Analyst, PlatformDep
from ennakoiva.interfaces.api.problems import PROBLEM_RESPONSES, ProblemError
from ennakoiva.platform.reports import CitySource, analytics_catalogue, drilldown

__all__ = ["STATISTICS_PURPOSE", "router"]

router = APIRouter(tags=["reports"], responses=PROBLEM_RESPONSES)
STATISTICS_PURPOSE = "open-data-statistics"


@router.get("/api/reports", summary="What can be counted: specs, dimensions, measures")
def catalogue(user: Analyst, lang: Annotated[Literal["fi", "sv", "en"], Query()] = "en") -> list[dict[str, Any]]:
    return analytics_catalogue(lang)


@router.get("/api/reports/{spec}/drilldown", summary="Counts and shares by up to three dimensions, protected")
def report_drilldown(spec: str, user: Analyst, platform: PlatformDep,
                     by: Annotated[list[str] | None, Query(max_length=3, examples=[["district"]])] = None,
                     measure: Annotated[str | None, Query(max_length=60, examples=["jobseeker"])] = None,
                     lang: Annotated[Literal["fi", "sv", "en"], Query()] = "en") -> dict[str, Any]:
    if platform.city_path is None:
        raise ProblemError(503, "no_city", "this service was started without a city database")
    try:
        result = drilldown(CitySource(platform.city_path, spec), by or [], measure, settings=platform.settings,
                           actor=user.actor(STATISTICS_PURPOSE), lang=lang)
    except (ValueError, KeyError) as exc:
        raise ProblemError(400, "invalid_report", str(exc)[:300]) from None
    return result.public()
