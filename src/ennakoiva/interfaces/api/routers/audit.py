"""The data-protection officer's view: the latest audit entries and the chain verification."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from ennakoiva.interfaces.api.deps import Dpo, PlatformDep
from ennakoiva.interfaces.api.problems import PROBLEM_RESPONSES
from ennakoiva.platform.audit_view import recent_entries

__all__ = ["router"]

router = APIRouter(tags=["audit"], responses=PROBLEM_RESPONSES)


@router.get("/api/audit/entries", summary="The latest audit entries (ids and categories, never values)")
def entries(user: Dpo, platform: PlatformDep, limit: Annotated[int, Query(ge=1, le=500)] = 50,
            outcome: Annotated[Literal["permit", "deny"] | None, Query()] = None) -> dict[str, Any]:
    return recent_entries(platform.operational.audit, limit, outcome=outcome)


@router.get("/api/audit/verify", summary="Verify the whole hash chain against the signed checkpoints")
def verify(user: Dpo, platform: PlatformDep) -> dict[str, Any]:
    return platform.operational.verify_audit().model_dump(mode="json")
