"""Template rendering: language, the logged-in user, navigation by role and the CSRF token.

Every page gets ``t`` (the message catalogue of the page language), ``lang``, the language-switch
links for the current path, and the navigation entries the user's role may open — nothing else is
shown, so a nurse never sees a link to the audit log.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from ennakoiva.domain.types import Lang
from ennakoiva.interfaces.api.auth import Principal
from ennakoiva.interfaces.web.i18n import LANGS, catalogue, negotiate
from ennakoiva.platform.roles import Role

__all__ = ["LANG_COOKIE", "NAV", "page", "page_lang", "role_home"]

LANG_COOKIE = "ennakoiva_lang"
_TEMPLATES = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))
_TEMPLATES.env.autoescape = True

READERS: tuple[Role, ...] = ("analyst", "nurse", "counsellor", "service-owner")
STAFF: tuple[Role, ...] = (*READERS, "dpo")

# (message key, path, roles that see it); pages of other capabilities add themselves via EXTRA_NAV
NAV: list[tuple[str, str, tuple[Role, ...]]] = [
    ("nav.overview", "/overview", STAFF),
    ("nav.tables", "/tables", STAFF),
    ("nav.people", "/people", READERS),
    ("nav.mydata", "/mydata", ("resident",)),
    ("nav.audit", "/audit", ("dpo",)),
    ("nav.reports", "/reports", ("analyst",)),
    ("nav.campaigns", "/campaigns", ("service-owner",)),
]


def role_home(role: Role) -> str:
    return {"resident": "/mydata", "dpo": "/audit"}.get(role, "/overview")


def page_lang(request: Request) -> Lang:
    return negotiate(request.cookies.get(LANG_COOKIE), request.query_params.get("lang"),
                     request.headers.get("accept-language"))


def page(request: Request, template: str, user: Principal | None, status_code: int = 200,
         **context: Any) -> HTMLResponse:
    """Render ``template`` in the page language with the common context."""
    lang = page_lang(request)
    messages = catalogue(lang)
    here = request.url.path
    nav = [{"label": messages.get(key, key), "href": href, "current": here.startswith(href)}
           for key, href, roles in NAV if user is not None and user.role in roles]
    switch = [{"code": code, "href": f"/lang/{code}?next={quote(here)}", "current": code == lang} for code in LANGS]
    response = _TEMPLATES.TemplateResponse(request, template, {
        "t": messages, "lang": lang, "user": user, "nav": nav, "switch": switch,
        "csrf": user.csrf if user is not None else "", **context}, status_code=status_code)
    if request.query_params.get("lang") in LANGS:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax", path="/")
    return response
