"""One person's data, read for a purpose through the access gate (decide, log, read, re-check)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from ennakoiva.interfaces.api.deps import CityDep, PlatformDep, Reader
from ennakoiva.interfaces.api.problems import PROBLEM_RESPONSES
from ennakoiva.platform.records import subject_rows

__all__ = ["router"]

router = APIRouter(tags=["people"], responses=PROBLEM_RESPONSES)


@router.get("/api/people/{person_id}/data", summary="One person's rows of some tables, for a purpose")
def person_data(person_id: int, user: Reader, platform: PlatformDep, engine: CityDep,
                tables: Annotated[list[str], Query(min_length=1, max_length=20, examples=[["person", "diagnosis"]])],
                purpose: Annotated[str | None, Query(max_length=80, examples=["care-gap-identification"])] = None,
                via_consent_of: Annotated[int | None, Query(gt=0)] = None) -> dict[str, Any]:
    """403 (a problem document naming the decision's reason) when the decision refuses; the refusal
    is in the audit log and in the person's own "My data" view."""
    purpose_id = purpose or user.default_purpose
    return subject_rows(platform.operational.gate, engine, platform.registry, user.actor(purpose_id), purpose_id,
                        person_id, tables, via_consent_of=via_consent_of)
