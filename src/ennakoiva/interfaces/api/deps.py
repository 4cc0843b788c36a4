"""Typed dependencies: the platform, the caller, role guards and a per-request city connection.

Routes declare who may call them with one alias (``Staff``, ``Resident``, ``Dpo`` …); the guard
answers 401 without a valid identity and 403 — logged in the audit log — for a role the route is not
for. Unsafe methods authenticated by the session cookie must carry the session's CSRF token
(header ``X-CSRF-Token`` or form field ``csrf_token``); bearer-token calls cannot be forged by
another site and need none.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Coroutine, Iterator
from typing import Annotated, Any

from fastapi import Depends, Request

from ennakoiva.adapters.engine import DuckDBEngine
from ennakoiva.domain.clock import now
from ennakoiva.domain.consent.audit import AuditRecord
from ennakoiva.domain.consent.decision import POLICY_VERSION
from ennakoiva.interfaces.api.auth import SESSION_COOKIE, AuthError, OidcVerifier, Principal, read_session
from ennakoiva.interfaces.api.problems import ProblemError
from ennakoiva.platform.platform import Platform
from ennakoiva.platform.roles import ROLES, STAFF_ROLES, Role

__all__ = [
    "Analyst",
    "AnyUser",
    "CityDep",
    "Dpo",
    "OptionalUser",
    "PlatformDep",
    "Reader",
    "Resident",
    "ServiceOwner",
    "Staff",
    "current_principal",
    "get_platform",
    "require",
]

UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


async def get_platform(request: Request) -> Platform:
    return request.app.state.platform  # type: ignore[no-any-return]


PlatformDep = Annotated[Platform, Depends(get_platform)]


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def current_principal(request: Request, platform: PlatformDep) -> Principal | None:
    """The caller, or None when there is no credential; 401 for a credential that is not valid.

    Async (no thread hop): verifying an HMAC or an RS256 signature takes microseconds; a JWKS URL
    is fetched once and then cached by PyJWKClient.
    """
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    token, via_cookie = _bearer(request), False
    if token is None:   # the pages' session cookie (the demo login or, in OIDC mode, the code-flow login)
        token, via_cookie = request.cookies.get(SESSION_COOKIE), True
    if not token:
        return None
    try:
        if platform.settings.auth_mode == "oidc" and not via_cookie:
            verifier: OidcVerifier = request.app.state.oidc
            principal = verifier.verify(token)
        else:
            principal = read_session(platform, token)
    except AuthError as exc:
        if via_cookie:
            return None   # a stale cookie is the same as none: the page asks to log in again
        raise ProblemError(401, "invalid_token", str(exc), headers={"WWW-Authenticate": "Bearer"}) from None
    request.state.principal = principal
    request.state.via_cookie = via_cookie
    return principal


OptionalUser = Annotated[Principal | None, Depends(current_principal)]


def _deny_logged(platform: Platform, request: Request, principal: Principal) -> None:
    """A role reaching another role's route is refused and the refusal goes to the audit log."""
    route = getattr(request.scope.get("route"), "path", request.url.path)
    platform.operational.audit.append(AuditRecord(
        at=now(), actor_id=principal.user_id, role=principal.role, service="web", purpose_id="web-authorisation",
        subject_id=None, categories=(), decision="deny", reason="role_not_allowed",
        policy_version=POLICY_VERSION, request_id=f"{request.method} {route}"[:120]))


async def _check_csrf(request: Request, principal: Principal) -> None:
    if request.method not in UNSAFE or not getattr(request.state, "via_cookie", False):
        return
    sent = request.headers.get("x-csrf-token")
    if sent is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get("csrf_token")
        sent = value if isinstance(value, str) else None
    if not sent or not principal.csrf or not hmac.compare_digest(sent, principal.csrf):
        raise ProblemError(403, "csrf_failed", "the form's CSRF token is missing or wrong; reload the page")


def require(*roles: Role) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency that admits only ``roles`` (401 without identity, 403 audited otherwise)."""
    allowed = frozenset(roles)

    async def guard(request: Request, platform: PlatformDep, principal: OptionalUser) -> Principal:
        if principal is None:
            raise ProblemError(401, "authentication_required", "log in or send a bearer token",
                               headers={"WWW-Authenticate": "Bearer"})
        if principal.role not in allowed:
            _deny_logged(platform, request, principal)
            raise ProblemError(403, "forbidden", f"this resource is not for the role {principal.role}")
        await _check_csrf(request, principal)
        return principal

    guard.roles = allowed  # type: ignore[attr-defined]
    return guard


def city(platform: PlatformDep) -> Iterator[DuckDBEngine]:
    """A read-only connection to the city database for this request."""
    with platform.city() as engine:
        yield engine


AnyUser = Annotated[Principal, Depends(require(*ROLES))]
Staff = Annotated[Principal, Depends(require(*STAFF_ROLES))]
Reader = Annotated[Principal, Depends(require("analyst", "nurse", "counsellor", "service-owner"))]
Analyst = Annotated[Principal, Depends(require("analyst"))]
ServiceOwner = Annotated[Principal, Depends(require("service-owner"))]
Dpo = Annotated[Principal, Depends(require("dpo"))]
Resident = Annotated[Principal, Depends(require("resident"))]
CityDep = Annotated[DuckDBEngine, Depends(city)]
