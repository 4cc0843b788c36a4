"""The pages: login, language switch, city overview, tables, person lookup, My data and the audit log.

Each page is guarded by the same role dependencies as the API and calls the same platform
functions; a page never queries anything itself.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from ennakoiva.domain.consent.records import ConsentError
from ennakoiva.interfaces.api.auth import SESSION_COOKIE, SESSION_SECONDS, issue_session
from ennakoiva.interfaces.api.deps import CityDep, Dpo, OptionalUser, PlatformDep, Reader, Resident, Staff
from ennakoiva.interfaces.api.problems import ProblemError
from ennakoiva.interfaces.api.routers.session import authenticate_demo
from ennakoiva.interfaces.web.campaign_pages import router as campaign_router
from ennakoiva.interfaces.web.charts import trend_svg
from ennakoiva.interfaces.web.i18n import LANGS, catalogue
from ennakoiva.interfaces.web.oidc_login import end_session_url
from ennakoiva.interfaces.web.oidc_login import router as oidc_router
from ennakoiva.interfaces.web.rendering import LANG_COOKIE, page, page_lang, role_home
from ennakoiva.interfaces.web.report_pages import router as report_router
from ennakoiva.platform.access import AccessDeniedError
from ennakoiva.platform.audit_view import recent_entries
from ennakoiva.platform.mydata import resident_view
from ennakoiva.platform.records import subject_rows, table_catalogue
from ennakoiva.platform.resident_consents import ResidentConsents, consentable_purposes
from ennakoiva.platform.roles import CAPACITIES

__all__ = ["PAGE_ROUTERS", "html_error"]

LOGIN_CSRF_COOKIE = "ennakoiva_login_csrf"

public = APIRouter(include_in_schema=False)
staff = APIRouter(include_in_schema=False)
resident = APIRouter(include_in_schema=False)
dpo = APIRouter(include_in_schema=False)


def _local(path: str | None) -> str | None:
    """Only a path on this site may be a redirect target (no open redirects)."""
    if path and path.startswith("/") and not path.startswith("//") and "\\" not in path:
        return path
    return None


def html_error(request: Request, status: int, code: str, detail: str) -> Response:
    """The browser's version of a problem document: the login page for 401, an error page otherwise."""
    if status == 401:
        return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
    key = {403: "error.forbidden", 404: "error.not_found"}.get(status, "error.generic")
    if code.startswith("oidc_"):
        key = "error.login_failed"
    user = getattr(request.state, "principal", None)
    return page(request, "error.html", user, status_code=status, message_key=key, status=status, code=code)


# -- public: login, logout, language ---------------------------------------------------------------
@public.get("/")
def home(user: OptionalUser) -> RedirectResponse:
    return RedirectResponse(role_home(user.role) if user else "/login", status_code=303)


@public.get("/login")
def login_form(request: Request, platform: PlatformDep, next: str | None = None) -> HTMLResponse:
    token = secrets.token_urlsafe(16)
    response = page(request, "login.html", None, next=_local(next) or "", login_csrf=token,
                    oidc=platform.settings.auth_mode == "oidc", failed=False)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", path="/login")
    return response


@public.post("/login")
def login(request: Request, platform: PlatformDep, username: Annotated[str, Form(max_length=60)],
          password: Annotated[str, Form(max_length=200)], csrf_token: Annotated[str, Form(max_length=100)],
          next: Annotated[str, Form(max_length=300)] = "") -> Response:
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not hmac.compare_digest(cookie, csrf_token):
        raise ProblemError(403, "csrf_failed", "the login form's CSRF token is missing or wrong")
    try:
        principal = authenticate_demo(platform, username, password)
    except ProblemError as exc:
        if exc.status != 401:
            raise
        return page(request, "login.html", None, status_code=401, next=_local(next) or "", login_csrf=cookie,
                    oidc=False, failed=True)
    response = RedirectResponse(_local(next) or role_home(principal.role), status_code=303)
    response.set_cookie(SESSION_COOKIE, issue_session(platform, principal), max_age=SESSION_SECONDS,
                        httponly=True, samesite="strict", path="/")
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@public.post("/logout")
def logout(request: Request, user: OptionalUser, platform: PlatformDep,
           csrf_token: Annotated[str, Form(max_length=100)] = "") -> Response:
    if user is not None and getattr(request.state, "via_cookie", False) and \
            not hmac.compare_digest(csrf_token, user.csrf):
        raise ProblemError(403, "csrf_failed", "the form's CSRF token is missing or wrong")
    response = RedirectResponse(end_session_url(request, platform) or "/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@public.get("/lang/{code}")
def switch_language(code: str, next: str | None = None) -> RedirectResponse:
    if code not in LANGS:
        raise ProblemError(404, "unknown_language", "the pages are in fi, sv and en")
    response = RedirectResponse(_local(next) or "/", status_code=303)
    response.set_cookie(LANG_COOKIE, code, max_age=365 * 86400, samesite="lax", path="/")
    return response


# -- staff ------------------------------------------------------------------------------------------
@staff.get("/overview")
def overview_page(request: Request, user: Staff, platform: PlatformDep) -> HTMLResponse:
    ov = platform.overview
    return page(request, "overview.html", user, as_of=ov.as_of, figures=ov.key_figures(),
                districts=sorted(ov.districts.items()), has_trend="residents" in ov.figures)


@staff.get("/charts/overview-trend.svg")
def overview_chart(request: Request, user: Staff, platform: PlatformDep) -> Response:
    if not platform.overview.figures:
        raise ProblemError(404, "no_city", "no overview figures")
    return Response(trend_svg(platform.overview, page_lang(request)), media_type="image/svg+xml")


@staff.get("/tables")
def tables_page(request: Request, user: Staff, platform: PlatformDep) -> HTMLResponse:
    return page(request, "tables.html", user, tables=table_catalogue(platform.registry))


@staff.get("/people")
def people_page(request: Request, user: Reader, platform: PlatformDep, engine: CityDep,
                person_id: Annotated[int | None, Query(gt=0)] = None,
                purpose: Annotated[str | None, Query(max_length=80)] = None,
                tables: Annotated[list[str] | None, Query(max_length=20)] = None,
                via_consent_of: Annotated[int | None, Query(gt=0)] = None) -> HTMLResponse:
    """The lookup form; with a person id, the read itself — through the gate, logged."""
    purposes = list(CAPACITIES[user.role])
    personal = [t for t in platform.registry.tables.values() if t.personal]
    result: dict[str, Any] | None = None
    denied: str | None = None
    chosen = purpose or (purposes[0] if purposes else "")
    if person_id is not None:
        try:
            result = subject_rows(platform.operational.gate, engine, platform.registry, user.actor(chosen), chosen,
                                  person_id, tables or ["person"], via_consent_of=via_consent_of)
        except AccessDeniedError as exc:
            denied = exc.decision.reason
    return page(request, "people.html", user, purposes=purposes, chosen=chosen, personal=personal,
                chosen_tables=tables or ["person"], person_id=person_id, via=via_consent_of, result=result,
                denied=denied, status_code=403 if denied else 200)


# -- the resident ----------------------------------------------------------------------------------
@resident.get("/mydata")
def mydata_page(request: Request, user: Resident, platform: PlatformDep, engine: CityDep,
                error: str | None = None) -> HTMLResponse:
    ops = platform.operational
    view = resident_view(user.person_id, ops.gate, ops.consents, engine, ops.purposes, include_data=False,
                         registry=platform.registry)
    assert user.person_id is not None
    children = ResidentConsents(ops.consents).children_of(engine, ops.gate, user.person_id)
    giveable = [ops.purposes[p] for p in consentable_purposes(ops.consents)]
    return page(request, "mydata.html", user, view=view, children=children, giveable=giveable,
                categories=platform.registry.categories, error=error if error and error.isidentifier() else None)


@resident.post("/mydata/consents")
def give_consent(request: Request, user: Resident, platform: PlatformDep, engine: CityDep,
                 purpose_id: Annotated[str, Form(max_length=80)],
                 subject_id: Annotated[int | None, Form(gt=0)] = None) -> RedirectResponse:
    assert user.person_id is not None
    try:
        ResidentConsents(platform.operational.consents).give(engine, user.person_id, purpose_id, subject_id,
                                                             page_lang(request))
    except ConsentError as exc:
        return RedirectResponse(f"/mydata?error={exc.code}", status_code=303)
    return RedirectResponse("/mydata", status_code=303)


@resident.post("/mydata/consents/{record_id}/withdraw")
def withdraw_consent(record_id: str, user: Resident, platform: PlatformDep) -> RedirectResponse:
    assert user.person_id is not None
    try:
        ResidentConsents(platform.operational.consents).withdraw(user.person_id, record_id)
    except ConsentError as exc:
        if exc.code == "unknown_record":
            raise
        return RedirectResponse(f"/mydata?error={exc.code}", status_code=303)
    return RedirectResponse("/mydata", status_code=303)


@resident.get("/mydata/export")
def mydata_export(user: Resident, platform: PlatformDep, engine: CityDep) -> JSONResponse:
    ops = platform.operational
    view = resident_view(user.person_id, ops.gate, ops.consents, engine, ops.purposes, include_data=True,
                         registry=platform.registry)
    return JSONResponse(view, headers={"Content-Disposition": 'attachment; filename="my-data.json"'})


# -- the data-protection officer -------------------------------------------------------------------
@dpo.get("/audit")
def audit_page(request: Request, user: Dpo, platform: PlatformDep,
               outcome: Annotated[str | None, Query(pattern="^(permit|deny)$")] = None) -> HTMLResponse:
    return page(request, "audit.html", user, log=recent_entries(platform.operational.audit, 100, outcome=outcome),
                outcome=outcome)


@dpo.get("/audit/verify")
def audit_verify(request: Request, user: Dpo, platform: PlatformDep) -> HTMLResponse:
    """An htmx fragment: the chain's verification result."""
    report = platform.operational.verify_audit()
    return page(request, "audit_verify.html", user, report=report, t_=catalogue(page_lang(request)))


PAGE_ROUTERS = [public, staff, resident, dpo, report_router, campaign_router, oidc_router]
