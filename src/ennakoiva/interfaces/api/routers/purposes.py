"""The purposes of processing: names and notices in fi/sv/en, legal basis, who may use the data."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ennakoiva.interfaces.api.deps import AnyUser, PlatformDep
from ennakoiva.interfaces.api.problems import PROBLEM_RESPONSES

__all__ = ["router"]

router = APIRouter(tags=["purposes"], responses=PROBLEM_RESPONSES)


@router.get("/api/purposes", summary="Purposes of processing")
def purposes(user: AnyUser, platform: PlatformDep) -> list[dict[str, Any]]:
    return [p.model_dump(mode="json") for p in platform.operational.purposes.values()]
