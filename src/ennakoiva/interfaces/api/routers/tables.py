"""Every registry table, machine-readable: the catalogue and pages of rows (decided per read)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from ennakoiva.interfaces.api.deps import AnyUser, CityDep, PlatformDep, Reader
from ennakoiva.interfaces.api.problems import PROBLEM_RESPONSES
from ennakoiva.platform.records import MAX_PAGE, population_page, table_catalogue

__all__ = ["router"]

router = APIRouter(tags=["tables"], responses=PROBLEM_RESPONSES)


@router.get("/api/tables", summary="The table catalogue (columns, types, categories)")
def tables(user: AnyUser, platform: PlatformDep) -> list[dict[str, Any]]:
    return table_catalogue(platform.registry)


@router.get("/api/tables/{table}/rows", summary="A page of a table's rows")
def rows(table: str, user: Reader, platform: PlatformDep, engine: CityDep,
         purpose: Annotated[str | None, Query(max_length=80, examples=["open-data-statistics"])] = None,
         limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
         offset: Annotated[int, Query(ge=0, le=10**9)] = 0) -> dict[str, Any]:
    """A personal table is a population-level read: the access decision must permit it for the
    caller's purpose (default: the role's first purpose), and the decision is logged."""
    purpose_id = purpose or user.default_purpose
    return population_page(platform.operational.gate, engine, platform.registry, user.actor(purpose_id),
                           purpose_id, table, limit=limit, offset=offset)

