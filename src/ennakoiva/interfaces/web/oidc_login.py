"""Log in to the pages through the city's identity provider: OpenID Connect, authorization code + PKCE.

``GET /login/oidc`` sends the browser to the provider's authorization endpoint with a fresh
``state``, ``nonce`` and PKCE ``code_challenge`` (S256); the three, with the page to return to, ride
in a short-lived HMAC-signed cookie scoped to the callback. ``GET /auth/callback`` checks the state
against that cookie, exchanges the code at the token endpoint (with the verifier and, for a
confidential client, the secret from the environment), verifies the ID token exactly as the API
verifies bearer JWTs (issuer, audience = client id, expiry, signature by the JWKS, role claim) plus
the nonce, and issues the same session cookie as the demo login.

The endpoints come from ``{issuer}/.well-known/openid-configuration`` (fetched once with httpx and
cached) unless set explicitly. A refused login is an error page (a problem document for non-browser
clients) and an audit entry naming only the reason — never the code, a token or a claim.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import threading
import time
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit

import httpx
from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse

from ennakoiva.domain.clock import now
from ennakoiva.domain.consent.audit import AuditRecord
from ennakoiva.domain.consent.decision import POLICY_VERSION
from ennakoiva.interfaces.api.auth import SESSION_COOKIE, SESSION_SECONDS, AuthError, OidcVerifier, issue_session
from ennakoiva.interfaces.api.deps import PlatformDep
from ennakoiva.interfaces.api.problems import ProblemError
from ennakoiva.interfaces.web.rendering import role_home
from ennakoiva.platform.platform import Platform
from ennakoiva.platform.settings import Settings

__all__ = ["STATE_COOKIE", "OidcClient", "end_session_url", "router"]

STATE_COOKIE = "ennakoiva_oidc"
STATE_SECONDS = 600
CALLBACK = "/auth/callback"
log = logging.getLogger("ennakoiva.api")
router = APIRouter(include_in_schema=False)


class LoginRefusedError(Exception):
    """A login that must not complete: status and a stable code (the code is also the audit reason)."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail


class OidcClient:
    """The provider's endpoints (discovery, cached) and the code exchange."""

    def __init__(self, settings: Settings, *, timeout: float = 10.0) -> None:
        self.settings = settings
        self.client_id = settings.oidc_client_id or settings.oidc_audience or ""
        self.timeout = timeout
        self._discovered: dict[str, Any] | None = None
        self._lock = threading.Lock()

    def _discovery(self) -> dict[str, Any]:
        with self._lock:
            if self._discovered is None:
                issuer = (self.settings.oidc_issuer or "").rstrip("/")
                try:
                    answer = httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=self.timeout)
                    answer.raise_for_status()
                    document = answer.json()
                except (httpx.HTTPError, ValueError):
                    raise LoginRefusedError(502, "oidc_unavailable", "the identity provider did not answer") from None
                if not isinstance(document, dict) or document.get("issuer", "").rstrip("/") != issuer:
                    raise LoginRefusedError(502, "oidc_unavailable", "the discovery document names another issuer")
                self._discovered = document
            return self._discovered

    def endpoint(self, name: str) -> str | None:
        """``authorization_endpoint``, ``token_endpoint`` or ``end_session_endpoint``: setting first."""
        explicit = getattr(self.settings, f"oidc_{name}", None)
        if explicit:
            return str(explicit)
        value = self._discovery().get(name)
        return str(value) if value else None

    def authorization_url(self, *, state: str, nonce: str, challenge: str) -> str:
        endpoint = self.endpoint("authorization_endpoint")
        if not endpoint:
            raise LoginRefusedError(502, "oidc_unavailable", "the provider names no authorization endpoint")
        query = urlencode({"response_type": "code", "client_id": self.client_id,
                           "redirect_uri": self.settings.oidc_redirect_uri, "scope": self.settings.oidc_scopes,
                           "state": state, "nonce": nonce, "code_challenge": challenge,
                           "code_challenge_method": "S256"})
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"

    def exchange(self, code: str, verifier: str) -> str:
        """The ID token the token endpoint gives for ``code``; LoginRefusedError otherwise."""
        endpoint = self.endpoint("token_endpoint")
        if not endpoint:
            raise LoginRefusedError(502, "oidc_unavailable", "the provider names no token endpoint")
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": self.settings.oidc_redirect_uri,
                "code_verifier": verifier, "client_id": self.client_id}
        secret = self.settings.oidc_client_secret
        auth = (self.client_id, secret.get_secret_value()) if secret is not None else None
        try:
            answer = httpx.post(endpoint, data=form, auth=auth, timeout=self.timeout,
                                headers={"Accept": "application/json"})
        except httpx.HTTPError:
            raise LoginRefusedError(502, "oidc_unavailable", "the identity provider did not answer") from None
        if answer.status_code != 200:
            raise LoginRefusedError(403, "oidc_code_rejected", "the identity provider refused the code")
        try:
            token = answer.json().get("id_token")
        except (ValueError, AttributeError):
            token = None
        if not isinstance(token, str) or not token:
            raise LoginRefusedError(403, "oidc_code_rejected", "the token response carries no ID token")
        return token


def _client(request: Request, settings: Settings) -> OidcClient:
    client: OidcClient | None = getattr(request.app.state, "oidc_client", None)
    if client is None:
        client = request.app.state.oidc_client = OidcClient(settings)
    return client


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _mac(platform: Platform, body: str) -> str:
    return _b64(hmac.new(platform.session_secret, b"oidc-state:" + body.encode(), hashlib.sha256).digest())


def _seal(platform: Platform, payload: dict[str, Any]) -> str:
    body = _b64(json.dumps(payload, separators=(",", ":")).encode())
    return f"{body}.{_mac(platform, body)}"


def _unseal(platform: Platform, value: str) -> dict[str, Any]:
    body, _, sig = value.partition(".")
    if not sig or not hmac.compare_digest(sig, _mac(platform, body)):
        raise LoginRefusedError(400, "oidc_state_invalid", "the login's state cookie is missing or forged")
    payload: dict[str, Any] = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    if int(payload.get("exp", 0)) < time.time():
        raise LoginRefusedError(400, "oidc_state_invalid", "the login took too long; start again")
    return payload


def _local(path: str | None) -> str | None:
    """Only a path on this site may be a redirect target (as the demo login)."""
    if path and path.startswith("/") and not path.startswith("//") and "\\" not in path:
        return path
    return None


def _require_oidc(platform: Platform) -> None:
    if platform.settings.auth_mode != "oidc":
        raise ProblemError(404, "not_found", "the pages log in with the demo form")
    if not platform.settings.oidc_redirect_uri:
        raise ProblemError(503, "oidc_unconfigured", "ENNAKOIVA_OIDC_REDIRECT_URI is not set")


def _refuse(platform: Platform, request: Request, exc: LoginRefusedError) -> ProblemError:
    """Audit a refused login (the reason only) and turn it into the error page / problem document."""
    log.warning("OIDC login refused: %s", exc.code)
    platform.operational.audit.append(AuditRecord(
        at=now(), actor_id="anonymous", role="anonymous", service="web", purpose_id="web-authentication",
        subject_id=None, categories=(), decision="deny", reason=exc.code, policy_version=POLICY_VERSION,
        request_id=f"{request.method} {CALLBACK}"))
    return ProblemError(exc.status, exc.code, exc.detail)


@router.get("/login/oidc")
def oidc_login(request: Request, platform: PlatformDep,
               next: Annotated[str | None, Query(max_length=300)] = None) -> RedirectResponse:
    """To the identity provider, with state, nonce and the PKCE challenge."""
    _require_oidc(platform)
    state, nonce, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(24), secrets.token_urlsafe(48)
    challenge = _b64(hashlib.sha256(verifier.encode()).digest())
    try:
        url = _client(request, platform.settings).authorization_url(state=state, nonce=nonce, challenge=challenge)
    except LoginRefusedError as exc:
        raise ProblemError(exc.status, exc.code, exc.detail) from None
    response = RedirectResponse(url, status_code=303)
    sealed = _seal(platform, {"s": state, "n": nonce, "v": verifier, "next": _local(next) or "",
                              "exp": int(time.time()) + STATE_SECONDS})
    # Lax, not Strict: the provider's redirect back to the callback is a cross-site navigation
    response.set_cookie(STATE_COOKIE, sealed, max_age=STATE_SECONDS, httponly=True, samesite="lax", path=CALLBACK,
                        secure=str(platform.settings.oidc_redirect_uri).startswith("https:"))
    return response


@router.get(CALLBACK)
def oidc_callback(request: Request, platform: PlatformDep,
                  code: Annotated[str | None, Query(max_length=4000)] = None,
                  state: Annotated[str | None, Query(max_length=200)] = None,
                  error: Annotated[str | None, Query(max_length=200)] = None) -> RedirectResponse:
    """Back from the identity provider: check the state, exchange the code, verify the ID token, log in."""
    _require_oidc(platform)
    try:
        if error is not None:
            raise LoginRefusedError(403, "oidc_denied", "the identity provider did not log you in")
        sealed = _unseal(platform, request.cookies.get(STATE_COOKIE, ""))
        if not state or not hmac.compare_digest(state, str(sealed.get("s", ""))):
            raise LoginRefusedError(400, "oidc_state_invalid", "the login's state does not match; start again")
        if not code:
            raise LoginRefusedError(400, "oidc_code_missing", "the identity provider sent no code")
        client = _client(request, platform.settings)
        id_token = client.exchange(code, str(sealed["v"]))
        verifier: OidcVerifier = request.app.state.oidc
        try:
            principal = verifier.verify(id_token, audience=client.client_id, nonce=str(sealed["n"]))
        except AuthError as exc:
            raise LoginRefusedError(403, "oidc_token_invalid", str(exc)) from None
    except LoginRefusedError as exc:
        raise _refuse(platform, request, exc) from None
    response = RedirectResponse(_local(str(sealed.get("next", ""))) or role_home(principal.role), status_code=303)
    # Lax, not Strict: this response ends a redirect chain that began at the identity provider (cross-site),
    # and browsers withhold Strict cookies on the landing request, which would look like a failed login.
    # Forms stay protected by their CSRF tokens.
    response.set_cookie(SESSION_COOKIE, issue_session(platform, principal), max_age=SESSION_SECONDS,
                        httponly=True, samesite="lax", path="/")
    response.delete_cookie(STATE_COOKIE, path=CALLBACK)
    return response


def end_session_url(request: Request, platform: Platform) -> str | None:
    """Where logout sends the browser in OIDC mode: the provider's end-session endpoint, when known."""
    settings = platform.settings
    if settings.auth_mode != "oidc" or not settings.oidc_redirect_uri:
        return None
    client = _client(request, settings)
    try:
        endpoint = client.endpoint("end_session_endpoint")
    except LoginRefusedError:
        return None
    if not endpoint:
        return None
    parts = urlsplit(settings.oidc_redirect_uri)
    query = urlencode({"client_id": client.client_id, "post_logout_redirect_uri": f"{parts.scheme}://{parts.netloc}/login"})
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"
