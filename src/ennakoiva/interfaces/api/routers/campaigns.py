"""Proactive-service campaigns for the service owner: run, offers and their states, live metrics,
and the embedded SMS simulator's inbox (demo phones) with replies sent as a guardian would."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body
from pydantic import BaseModel, ConfigDict, Field

from ennakoiva.interfaces.api.deps import PlatformDep, ServiceOwner
from ennakoiva.interfaces.api.problems import PROBLEM_RESPONSES, ProblemError

__all__ = ["AnswerRequest", "RunRequest", "router"]

router = APIRouter(tags=["campaigns"], responses=PROBLEM_RESPONSES)


class RunRequest(BaseModel):
    """Run a proactive service's campaign on the city's extract date (re-running adds only new subjects)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"service_id": "preschool-offer"}]})
    service_id: str = Field(min_length=1, max_length=80, pattern=r"^[a-z0-9-]+$")


class AnswerRequest(BaseModel):
    """A reply typed on a simulated phone."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"phone": "+358401234567",
                                                                              "text": "A"}]})
    phone: str = Field(min_length=5, max_length=20, pattern=r"^\+?[0-9]+$")
    text: str = Field(min_length=1, max_length=320)


def run_as_owner(platform: Any, user: Any, service_id: str) -> dict[str, Any]:
    """Run a campaign in the service owner's name (shared by the API and the page)."""
    if platform.city_path is None or platform.overview.as_of is None:
        raise ProblemError(503, "no_city", "this service was started without a city database")
    console = platform.campaigns
    if service_id not in console.services():
        raise ProblemError(404, "unknown_service", "no such proactive service")
    definition = console.messaging.definitions[service_id]
    return console.run(platform.operational, platform.city_path, service_id, platform.overview.as_of,
                       user.actor(definition.purpose))


@router.get("/api/campaigns", summary="Campaigns with offers per state and metrics")
def campaigns(user: ServiceOwner, platform: PlatformDep) -> list[dict[str, Any]]:
    return platform.campaigns.overview()


@router.post("/api/campaigns", summary="Run a campaign (decided and logged under the service's purpose)",
             status_code=201)
def run(body: RunRequest, user: ServiceOwner, platform: PlatformDep) -> dict[str, Any]:
    return run_as_owner(platform, user, body.service_id)


@router.get("/api/campaigns/{campaign_id}/offers", summary="A campaign's offers and their states")
def offers(campaign_id: str, user: ServiceOwner, platform: PlatformDep) -> list[dict[str, Any]]:
    found = platform.campaigns.offers(campaign_id)
    if not found and all(c["campaign_id"] != campaign_id for c in platform.campaigns.overview()):
        raise ProblemError(404, "unknown_campaign", "no such campaign")
    return found


@router.get("/api/sms-simulator/inbox", summary="The SMS simulator's phones and what each received")
def inbox(user: ServiceOwner, platform: PlatformDep) -> dict[str, list[dict[str, str]]]:
    if not platform.campaigns.simulated:
        raise ProblemError(404, "no_simulator", "the SMS gateway is a real provider")
    return platform.campaigns.inbox()


@router.post("/api/sms-simulator/replies", summary="Reply from a simulated phone, as a guardian would")
def answer(body: Annotated[AnswerRequest, Body()], user: ServiceOwner, platform: PlatformDep) -> dict[str, Any]:
    try:
        return platform.campaigns.answer(body.phone, body.text)
    except LookupError as exc:
        raise ProblemError(404, "unknown_phone", str(exc)) from None
