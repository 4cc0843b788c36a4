"""Care-gap lists per health station, each person's evidence and an invite action.

API (JSON, problem documents on error):

- ``GET /api/care-gaps`` — the latest run and counts per health station, criterion and tier (nurse;
  the analyst gets the counts only, those under the disclosure threshold withheld);
- ``POST /api/care-gaps/runs`` — evaluate every criterion over the city (nurse): one population read
  under ``care-gap-identification``, decided and logged first;
- ``GET /api/care-gaps/stations/{unit_id}`` — one page of a station's ranked list with each person's
  criteria and evidence (nurse; each person shown is a decided and logged read);
- ``POST /api/care-gaps/invitations`` — queue ``care-gap-invitation`` offers for chosen persons
  (nurse): one offer per person, never twice.

Pages (``/care-gaps…``): the station overview with a bar chart, a station's list with an invite
button per person (a CSRF-protected form), and the result of an invitation.
"""

from __future__ import annotations

import threading
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict, Field

from ennakoiva.domain.clock import today
from ennakoiva.interfaces.api.auth import Principal
from ennakoiva.interfaces.api.deps import PlatformDep, require
from ennakoiva.interfaces.api.problems import PROBLEM_RESPONSES, ProblemError
from ennakoiva.interfaces.web.rendering import NAV, page, page_lang
from ennakoiva.platform.access import AccessDeniedError
from ennakoiva.platform.care_gaps import PAGE_SIZE, PURPOSE, CareGaps, NoRunError
from ennakoiva.platform.platform import Platform

__all__ = ["CareGapInviteRequest", "CareGapRunRequest", "care_gaps", "router"]

router = APIRouter(tags=["care-gaps"], responses=PROBLEM_RESPONSES)
pages = APIRouter(include_in_schema=False)

Nurse = Annotated[Principal, Depends(require("nurse"))]
NurseOrAnalyst = Annotated[Principal, Depends(require("nurse", "analyst"))]

_LOCK = threading.Lock()
PersonId = Annotated[int, Field(ge=1, le=2**63 - 1)]


class CareGapRunRequest(BaseModel):
    """Evaluate every active criterion on a date (default: the city's extract date)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"on": "2026-11-01"}, {}]})
    on: date | None = Field(default=None, ge=date(2000, 1, 1), le=date(2100, 12, 31))


class CareGapInviteRequest(BaseModel):
    """Invite persons of the latest run who match ``criterion_id`` (one offer each, never twice)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"criterion_id": "htn-uncontrolled", "person_ids": [1234567, 2345678]}]})
    criterion_id: str = Field(min_length=1, max_length=80, pattern=r"^[a-z0-9-]+$")
    person_ids: list[PersonId] = Field(min_length=1, max_length=500)


async def care_gaps(request: Request) -> CareGaps:
    """The app's care-gap state (built on first use, shared by all requests)."""
    found = getattr(request.app.state, "care_gaps", None)
    if found is None:
        with _LOCK:
            found = getattr(request.app.state, "care_gaps", None)
            if found is None:
                found = CareGaps(request.app.state.platform)
                request.app.state.care_gaps = found
    return found


CareGapsDep = Annotated[CareGaps, Depends(care_gaps)]


def _denied(exc: AccessDeniedError) -> ProblemError:
    return ProblemError(403, "access_denied", f"the access decision refused the read: {exc.decision.reason}")


def _run(platform: Platform, gaps: CareGaps, user: Principal, on: date | None) -> dict[str, Any]:
    if platform.city_path is None:
        raise ProblemError(503, "no_city", "this service was started without a city database")
    day = on or platform.overview.as_of or today()
    try:
        return gaps.run(platform.operational, user.actor(PURPOSE), day).summary()
    except AccessDeniedError as exc:
        raise _denied(exc) from None


def _overview(gaps: CareGaps, user: Principal) -> dict[str, Any]:
    run = gaps.latest
    return {"run": run.summary() if run is not None and user.role == "nurse" else
            ({"on": run.on.isoformat(), "run_at": run.run_at.isoformat()} if run is not None else None),
            "stations": gaps.stations(suppress=user.role != "nurse")}


def _station(platform: Platform, gaps: CareGaps, user: Principal, unit_id: int, page_no: int, lang: Any,
             ) -> dict[str, Any]:
    try:
        return gaps.station_list(platform.operational, user.actor(PURPOSE), unit_id, page_no, lang)
    except NoRunError as exc:
        raise ProblemError(404, "no_run", str(exc)) from None
    except LookupError:
        raise ProblemError(404, "unknown_station", "no care gaps are listed for this station") from None


def _invite(platform: Platform, gaps: CareGaps, user: Principal, criterion: str, persons: list[int],
            ) -> dict[str, Any]:
    try:
        report = gaps.invite(platform.operational, platform.campaigns.messaging, user.actor(PURPOSE), persons,
                             criterion)
    except NoRunError as exc:
        raise ProblemError(404, "no_run", str(exc)) from None
    except AccessDeniedError as exc:
        raise _denied(exc) from None
    except ValueError as exc:
        raise ProblemError(422, "not_invitable", str(exc)) from None
    return report.as_json()


# --------------------------------------------------------------------------- API

@router.get("/api/care-gaps", summary="The latest care-gap run: counts per health station, criterion and tier")
def overview(user: NurseOrAnalyst, gaps: CareGapsDep) -> dict[str, Any]:
    """Counts only, no person. For the analyst, counts under the disclosure threshold (5) are null."""
    return _overview(gaps, user)


@router.post("/api/care-gaps/runs", status_code=201, summary="Run every criterion over the city")
def run(user: Nurse, platform: PlatformDep, gaps: CareGapsDep,
        body: Annotated[CareGapRunRequest | None, Body()] = None) -> dict[str, Any]:
    """One population read under ``care-gap-identification``, decided and logged before any data is read.
    Answers persons matched per criterion."""
    return _run(platform, gaps, user, body.on if body is not None else None)


@router.get("/api/care-gaps/stations/{unit_id}", summary="A health station's ranked list with evidence")
def station(unit_id: int, request: Request, user: Nurse, platform: PlatformDep, gaps: CareGapsDep,
            page_no: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1) -> dict[str, Any]:
    """Ranked by tier, points and person id; each person's criteria with action and evidence sentences.
    Each person shown is a read decided and logged under ``care-gap-identification``."""
    return _station(platform, gaps, user, unit_id, page_no, page_lang(request))


@router.post("/api/care-gaps/invitations", status_code=201, summary="Invite persons by SMS (care-gap-invitation)")
def invite(body: CareGapInviteRequest, user: Nurse, platform: PlatformDep, gaps: CareGapsDep) -> dict[str, Any]:
    """Queues one offer per person through the campaign machinery; a person invited before gets nothing
    new. Answers who was queued, who was invited already and who the service does not cover."""
    return _invite(platform, gaps, user, body.criterion_id, body.person_ids)


# --------------------------------------------------------------------------- pages

def _chart(stations: list[dict[str, Any]]) -> dict[str, Any]:
    """Bar geometry per station (drawn as plain SVG in the template, no script)."""
    shown = [s for s in stations if s["persons"]][:20]
    top = max((s["persons"] for s in shown), default=0) or 1
    bars = [{"label": s["unit_name"], "value": s["persons"], "width": round(380 * s["persons"] / top, 1),
             "y": 8 + 22 * i} for i, s in enumerate(shown)]
    return {"bars": bars, "height": 16 + 22 * len(bars)}


@pages.get("/care-gaps")
def overview_page(request: Request, user: NurseOrAnalyst, platform: PlatformDep, gaps: CareGapsDep) -> HTMLResponse:
    data = _overview(gaps, user)
    names = gaps.criterion_names(page_lang(request))
    return page(request, "care_gaps/overview.html", user, run=gaps.latest, stations=data["stations"],
                chart=_chart(data["stations"]), names=names, invitable=gaps.invitable_criteria(),
                as_of=platform.overview.as_of, nurse=user.role == "nurse")


@pages.post("/care-gaps/run")
def run_page(user: Nurse, platform: PlatformDep, gaps: CareGapsDep) -> RedirectResponse:
    _run(platform, gaps, user, None)
    return RedirectResponse("/care-gaps", status_code=303)


@pages.get("/care-gaps/stations/{unit_id}")
def station_page(request: Request, unit_id: int, user: Nurse, platform: PlatformDep, gaps: CareGapsDep,
                 page_no: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1) -> HTMLResponse:
    listed = _station(platform, gaps, user, unit_id, page_no, page_lang(request))
    return page(request, "care_gaps/station.html", user, listed=listed, invitable=gaps.invitable_criteria(),
                page_size=PAGE_SIZE)


@pages.post("/care-gaps/invite")
def invite_page(request: Request, user: Nurse, platform: PlatformDep, gaps: CareGapsDep,
                criterion_id: Annotated[str, Form(max_length=80, pattern=r"^[a-z0-9-]+$")],
                person_id: Annotated[list[PersonId], Form(min_length=1, max_length=500)],
                unit_id: Annotated[int | None, Form()] = None) -> HTMLResponse:
    report = _invite(platform, gaps, user, criterion_id, person_id)
    return page(request, "care_gaps/invited.html", user, report=report, unit_id=unit_id,
                names=gaps.criterion_names(page_lang(request)))


router.include_router(pages)

# the nurse's (and the analyst's, counts only) page in the navigation
if not any(href == "/care-gaps" for _, href, _ in NAV):
    NAV.append(("care_gaps.nav", "/care-gaps", ("nurse", "analyst")))
