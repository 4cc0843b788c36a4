"""Log in (demo users), log out, and who am I."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Response

from ennakoiva.interfaces.api.auth import SESSION_COOKIE, SESSION_SECONDS, Principal, issue_session, read_session
from ennakoiva.interfaces.api.deps import AnyUser, PlatformDep
from ennakoiva.interfaces.api.problems import PROBLEM_RESPONSES, ProblemError
from ennakoiva.interfaces.api.schemas import LoginRequest, Me, SessionResponse
from ennakoiva.platform.platform import Platform
from ennakoiva.platform.roles import CAPACITIES

__all__ = ["authenticate_demo", "router"]

router = APIRouter(tags=["session"], responses=PROBLEM_RESPONSES)


def authenticate_demo(platform: Platform, username: str, password: str) -> Principal:
    """The demo user with these credentials; 401 problem otherwise (same answer for name and password)."""
    if platform.settings.auth_mode != "demo":
        raise ProblemError(404, "not_found", "log in through the city's identity provider")
    user = next((u for u in platform.users if u.username == username), None)
    ok = hmac.compare_digest(password.encode(), platform.demo_password.encode())
    if user is None or not ok:
        raise ProblemError(401, "login_failed", "unknown user or wrong password")
    return Principal(user_id=f"demo-{user.username}", role=user.role, display_name=user.display_name,
                     person_id=user.person_id)


@router.post("/api/session", summary="Log in as a demo user", response_model=SessionResponse)
def login(body: LoginRequest, platform: PlatformDep, response: Response) -> SessionResponse:
    """A session token for the API (bearer) and the same as an HttpOnly cookie for the pages."""
    principal = authenticate_demo(platform, body.username, body.password)
    token = issue_session(platform, principal)
    session = read_session(platform, token)
    response.set_cookie(SESSION_COOKIE, token, max_age=SESSION_SECONDS, httponly=True, samesite="strict", path="/")
    return SessionResponse(token=token, role=session.role, expires_in=SESSION_SECONDS, csrf_token=session.csrf)


@router.delete("/api/session", summary="Log out", status_code=204)
def logout(user: AnyUser, response: Response) -> Response:
    """Forget the session cookie (a bearer token simply expires)."""
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.status_code = 204
    return response


@router.get("/api/me", summary="Who am I", response_model=Me)
def me(user: AnyUser) -> Me:
    return Me(user_id=user.user_id, role=user.role, display_name=user.display_name, person_id=user.person_id,
              purposes=sorted(CAPACITIES[user.role]))
