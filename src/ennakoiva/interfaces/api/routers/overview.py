"""The city overview: key figures with the change since the day before and since last month."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ennakoiva.interfaces.api.deps import PlatformDep, Staff
from ennakoiva.interfaces.api.problems import PROBLEM_RESPONSES

__all__ = ["router"]

router = APIRouter(tags=["overview"], responses=PROBLEM_RESPONSES)


@router.get("/api/overview", summary="Key figures (precomputed after each run)")
def overview(user: Staff, platform: PlatformDep) -> dict[str, Any]:
    """Served from memory: the figures are computed once per extract date, not per request."""
    ov = platform.overview
    return {"as_of": ov.as_of.isoformat() if ov.as_of else None, "figures": ov.key_figures(),
            "districts": ov.districts}
