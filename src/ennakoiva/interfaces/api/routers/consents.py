"""A resident's consents: list, give (for oneself or one's child), withdraw, receipt."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ennakoiva.interfaces.api.deps import CityDep, PlatformDep, Resident
from ennakoiva.interfaces.api.problems import PROBLEM_RESPONSES
from ennakoiva.interfaces.api.schemas import ConsentGiveRequest, WithdrawRequest
from ennakoiva.platform.resident_consents import ResidentConsents

__all__ = ["router"]

router = APIRouter(tags=["consents"], responses={**PROBLEM_RESPONSES, 409: {
    "description": "The consent is already active, final, or changed concurrently", "content": {
        "application/problem+json": {}}}})


def _me(user: Resident) -> int:
    assert user.person_id is not None
    return user.person_id


@router.get("/api/consents", summary="My consents (about me, given by me, or covering my data)")
def my_consents(user: Resident, platform: PlatformDep) -> list[dict[str, Any]]:
    ops = platform.operational
    return [v.as_dict(ops.purposes) for v in ops.consents.views_of_person(_me(user))]


@router.post("/api/consents", summary="Give consent", status_code=201)
def give(body: ConsentGiveRequest, user: Resident, platform: PlatformDep, engine: CityDep) -> dict[str, Any]:
    ops = platform.operational
    view = ResidentConsents(ops.consents).give(engine, _me(user), body.purpose_id, body.subject_id, body.language)
    return view.as_dict(ops.purposes)


@router.post("/api/consents/{record_id}/withdraw", summary="Withdraw consent (final, for every party)")
def withdraw(record_id: str, user: Resident, platform: PlatformDep,
             body: WithdrawRequest | None = None) -> dict[str, Any]:
    ops = platform.operational
    return ResidentConsents(ops.consents).withdraw(_me(user), record_id).as_dict(ops.purposes)


@router.get("/api/consents/{record_id}/receipt", summary="The consent receipt (Kantara v1.1 / ISO/IEC TS 27560 fields)")
def receipt(record_id: str, user: Resident, platform: PlatformDep) -> dict[str, Any]:
    return ResidentConsents(platform.operational.consents).receipt(_me(user), record_id)
