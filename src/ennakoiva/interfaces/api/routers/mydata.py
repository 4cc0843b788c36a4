"""The resident's own view and export (GDPR Art. 15 and 20), read under ``resident-own-data``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from ennakoiva.interfaces.api.deps import CityDep, PlatformDep, Resident
from ennakoiva.interfaces.api.problems import PROBLEM_RESPONSES
from ennakoiva.platform.mydata import resident_view

__all__ = ["router"]

router = APIRouter(tags=["mydata"], responses=PROBLEM_RESPONSES)


@router.get("/api/mydata", summary="My consents, the data held about me by category, and every use of it")
def my_data(user: Resident, platform: PlatformDep, engine: CityDep) -> dict[str, Any]:
    ops = platform.operational
    return resident_view(user.person_id, ops.gate, ops.consents, engine, ops.purposes, include_data=False,
                         registry=platform.registry)


@router.get("/api/mydata/export", summary="Export everything about me as JSON (with a copy of the data)")
def export(user: Resident, platform: PlatformDep, engine: CityDep) -> JSONResponse:
    ops = platform.operational
    view = resident_view(user.person_id, ops.gate, ops.consents, engine, ops.purposes, include_data=True,
                         registry=platform.registry)
    return JSONResponse(view, headers={"Content-Disposition": 'attachment; filename="my-data.json"'})
