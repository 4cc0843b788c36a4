"""Liveness: is the service up, and does it have a city database."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ennakoiva.interfaces.api.deps import PlatformDep

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get("/api/health", summary="Service health (public)")
def health(platform: PlatformDep) -> dict[str, Any]:
    """Up, with or without a city database, and the extract date of the overview."""
    as_of = platform.overview.as_of
    return {"status": "ok", "city": platform.city_path is not None, "as_of": as_of.isoformat() if as_of else None}
