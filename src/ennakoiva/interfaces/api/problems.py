"""Errors as RFC 9457 problem details (``application/problem+json``) for every 4xx and 5xx.

One ``ProblemError`` carries a stable code, status and a detail that never holds personal data;
handlers turn it, Starlette's HTTP errors (404, 405), validation errors and the platform's own
exceptions into problem documents. Browser pages (``text/html`` wanted, outside ``/api``) get the
same status with an HTML page instead (see ``interfaces/web``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from ennakoiva.domain.consent.records import ConsentError
from ennakoiva.platform.access import AccessDeniedError
from ennakoiva.platform.platform import CityUnavailableError
from ennakoiva.platform.records import UnknownTableError

__all__ = ["PROBLEM_JSON", "PROBLEM_RESPONSES", "Problem", "ProblemError", "install_problem_handlers",
           "problem_response"]

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("ennakoiva.api")

_TITLES = {400: "Bad request", 401: "Authentication required", 403: "Forbidden", 404: "Not found",
           405: "Method not allowed", 409: "Conflict", 415: "Unsupported media type",
           422: "Unprocessable content", 429: "Too many requests", 500: "Internal server error",
           503: "Service unavailable"}


class Problem(BaseModel):
    """RFC 9457 problem details, with a stable ``code`` and, for validation errors, ``errors``."""

    type: str = Field(examples=["urn:ennakoiva:problem:forbidden"])
    title: str = Field(examples=["Forbidden"])
    status: int = Field(examples=[403])
    detail: str = Field(default="", examples=["this page is not for the role nurse"])
    instance: str = Field(default="", examples=["/api/audit/entries"])
    code: str = Field(examples=["forbidden"])
    errors: list[dict[str, Any]] | None = None


_CONSENT_STATUS = {"unknown_record": 404, "invalid_record_id": 404, "unknown_purpose": 404, "already_active": 409,
                   "invalid_transition": 409, "final": 409, "concurrent_change": 409, "duplicate_record": 409,
                   "not_a_party": 403}

PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "content": {PROBLEM_JSON: {}}, "description": _TITLES[status]}
    for status in (401, 403, 404, 422)
}


class ProblemError(Exception):
    """Raise anywhere in the interfaces to answer with a problem document."""

    def __init__(self, status: int, code: str, detail: str = "", *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail or code)
        self.status, self.code, self.detail, self.headers = status, code, detail, headers or {}


def problem_response(request: Request, status: int, code: str, detail: str = "",
                     errors: list[dict[str, Any]] | None = None, headers: dict[str, str] | None = None) -> Response:
    """A problem document — or, for a browser page, the HTML error page the web layer installed."""
    html = getattr(request.app.state, "html_error", None)
    if html is not None and not request.url.path.startswith("/api") and \
            "text/html" in request.headers.get("accept", ""):
        return html(request, status, code, detail)  # type: ignore[no-any-return]
    body = Problem(type=f"urn:ennakoiva:problem:{code}", title=_TITLES.get(status, "Error"), status=status,
                   detail=detail, instance=request.url.path, code=code, errors=errors)
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status, media_type=PROBLEM_JSON,
                        headers=headers)


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    # the offending input is left out: it may be a person id or a token
    return [{"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", "")), "type": e.get("type", "")}
            for e in exc.errors()]


def install_problem_handlers(app: FastAPI) -> None:
    """Every error the application can raise becomes a problem document."""

    def handler(fn: Callable[[Request, Any], Response]) -> Callable[[Request, Any], Awaitable[Response]]:
        async def wrapped(request: Request, exc: Any) -> Response:
            return fn(request, exc)
        return wrapped

    app.add_exception_handler(ProblemError, handler(
        lambda r, e: problem_response(r, e.status, e.code, e.detail, headers=e.headers)))
    app.add_exception_handler(StarletteHTTPException, handler(
        lambda r, e: problem_response(r, e.status_code, _TITLES.get(e.status_code, "error").lower().replace(" ", "_"),
                                      str(e.detail) if e.status_code != 404 else "no such resource",
                                      headers=getattr(e, "headers", None))))
    app.add_exception_handler(RequestValidationError, handler(
        lambda r, e: problem_response(r, 422, "validation_failed", "the request does not match the schema",
                                      _validation_errors(e))))
    app.add_exception_handler(AccessDeniedError, handler(
        lambda r, e: problem_response(r, 403, "access_denied", f"the access decision refused: {e.decision.reason}")))
    app.add_exception_handler(PermissionError, handler(
        lambda r, e: problem_response(r, 403, "access_denied", "the access decision refused this read")))
    app.add_exception_handler(ConsentError, handler(
        lambda r, e: problem_response(r, _CONSENT_STATUS.get(e.code, 400), e.code, str(e))))
    app.add_exception_handler(UnknownTableError, handler(
        lambda r, e: problem_response(r, 404, "unknown_table", "no such table in this city")))
    app.add_exception_handler(CityUnavailableError, handler(
        lambda r, e: problem_response(r, 503, "no_city", str(e))))
    app.add_exception_handler(LookupError, handler(
        lambda r, e: problem_response(r, 404, "not_found", "no such resource")))

    def server_error(request: Request, exc: Exception) -> Response:
        log.error("unhandled %s on %s", type(exc).__name__, _route_of(request))
        return problem_response(request, 500, "internal_error", "the server failed; the error was logged")

    app.add_exception_handler(Exception, handler(server_error))


def _route_of(request: Request) -> str:
    route = request.scope.get("route")
    return getattr(route, "path", "?")
