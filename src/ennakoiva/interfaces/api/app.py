"""``create_app(platform)``: the FastAPI application over a built platform (nothing at import time)."""

from __future__ import annotations

import importlib
import logging
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

from ennakoiva.interfaces.api.auth import OidcVerifier
from ennakoiva.interfaces.api.problems import install_problem_handlers
from ennakoiva.interfaces.api.routers import ROUTERS
from ennakoiva.interfaces.api.security import (
    AccessLogMiddleware,
    RateLimitMiddleware,
    SecurityHeadersMiddleware,
    TokenBucket,
)
from ennakoiva.platform.platform import Platform

__all__ = ["OPTIONAL_ROUTERS", "create_app", "route_table"]

log = logging.getLogger("ennakoiva.api")

# routers other capabilities add; mounted when their module exists (module path, attribute)
OPTIONAL_ROUTERS = [("ennakoiva.interfaces.api.routers.sms_webhooks", "router"),
                    ("ennakoiva.interfaces.api.routers.employment", "router"),
                    ("ennakoiva.interfaces.api.routers.care_gaps", "router")]

DESCRIPTION = """The resident data layer of Ennakoiva as an API: the registry tables, consents, the
resident's own data, access decisions, the audit log and the city overview.

Authenticate with `POST /api/session` (demo users) and send `Authorization: Bearer <token>`, or with
a JWT from the city's identity provider (OpenID Connect). Every error is an RFC 9457 problem document
(`application/problem+json`). Every read of personal data is decided and logged by the access gate."""


def _optional_routers() -> list[Any]:
    found = []
    for module, attr in OPTIONAL_ROUTERS:
        try:
            found.append(getattr(importlib.import_module(module), attr))
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
    return found


def route_table(routers: list[APIRouter]) -> list[tuple[str, str]]:
    """(method, path) of every route the routers declare — for the authorisation matrix and docs."""
    return sorted({(method, route.path) for router in routers for route in router.routes
                   if isinstance(route, APIRoute) for method in route.methods})


def create_app(platform: Platform, *, web: bool = True) -> FastAPI:
    """The application for ``platform``; ``web`` adds the server-rendered pages and static assets."""
    app = FastAPI(title="Ennakoiva", version="0.1.0", description=DESCRIPTION,
                  openapi_tags=[{"name": n} for n in ("session", "overview", "tables", "people", "decisions",
                                                      "consents", "mydata", "audit", "purposes", "health")])
    app.state.platform = platform
    if platform.settings.auth_mode == "oidc":
        app.state.oidc = OidcVerifier(platform.settings)
    install_problem_handlers(app)
    routers = [*ROUTERS, *_optional_routers()]
    if web:
        from ennakoiva.interfaces.web import PAGE_ROUTERS, mount_web  # noqa: PLC0415 - the API runs without pages

        routers += PAGE_ROUTERS
        mount_web(app)
    for router in routers:
        app.include_router(router)
    app.state.route_table = route_table(routers)
    bucket = TokenBucket(platform.settings.webhook_rate_per_s, platform.settings.webhook_burst)
    app.add_middleware(RateLimitMiddleware, bucket=bucket)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(AccessLogMiddleware)
    return app
