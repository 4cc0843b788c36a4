"""The service owner's campaign pages: run a service, live metrics (htmx polling), offers and their
states, and the SMS simulator's inbox where a demo user answers as a guardian."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from ennakoiva.interfaces.api.deps import PlatformDep, ServiceOwner
from ennakoiva.interfaces.api.problems import ProblemError
from ennakoiva.interfaces.api.routers.campaigns import run_as_owner
from ennakoiva.interfaces.web.rendering import page

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@router.get("/campaigns")
def campaigns_page(request: Request, user: ServiceOwner, platform: PlatformDep, ran: str | None = None) -> HTMLResponse:
    console = platform.campaigns
    return page(request, "campaigns.html", user, services=console.services(), campaigns=console.overview(),
                simulated=console.simulated, as_of=platform.overview.as_of, ran=ran if ran and ran.isdigit() else None)


@router.get("/campaigns/live")
def campaigns_live(request: Request, user: ServiceOwner, platform: PlatformDep) -> HTMLResponse:
    """The metrics table alone, for htmx to poll."""
    return page(request, "campaign_metrics.html", user, campaigns=platform.campaigns.overview())


@router.post("/campaigns/run")
def run_page(user: ServiceOwner, platform: PlatformDep,
             service_id: Annotated[str, Form(max_length=80, pattern=r"^[a-z0-9-]+$")]) -> RedirectResponse:
    result = run_as_owner(platform, user, service_id)
    return RedirectResponse(f"/campaigns?ran={int(result.get('created', 0))}", status_code=303)


@router.get("/campaigns/inbox")
def inbox_page(request: Request, user: ServiceOwner, platform: PlatformDep) -> HTMLResponse:
    if not platform.campaigns.simulated:
        raise ProblemError(404, "no_simulator", "the SMS gateway is a real provider")
    return page(request, "inbox.html", user, phones=platform.campaigns.inbox())


@router.post("/campaigns/inbox/reply")
def reply_page(user: ServiceOwner, platform: PlatformDep,
               phone: Annotated[str, Form(max_length=20, pattern=r"^\+?[0-9]+$")],
               text: Annotated[str, Form(min_length=1, max_length=320)]) -> RedirectResponse:
    try:
        platform.campaigns.answer(phone, text)
    except LookupError as exc:
        raise ProblemError(404, "unknown_phone", str(exc)) from None
    return RedirectResponse(f"/campaigns/inbox#phone-{phone.lstrip('+')}", status_code=303)


@router.get("/campaigns/{campaign_id}")
def offers_page(request: Request, campaign_id: str, user: ServiceOwner, platform: PlatformDep) -> HTMLResponse:
    offers = platform.campaigns.offers(campaign_id)
    if not offers:
        raise ProblemError(404, "unknown_campaign", "no such campaign")
    return page(request, "campaign_offers.html", user, campaign_id=campaign_id, offers=offers)
