"""Who is asking: demo sessions (signed tokens) by default, OpenID Connect JWTs in production.

- **Demo** (``ENNAKOIVA_AUTH_MODE=demo``): named demo users log in with the per-run demo password
  and get a session token — HMAC-SHA256-signed JSON, sent as an HttpOnly cookie for the pages or as
  ``Authorization: Bearer`` for the API. The token carries a CSRF secret bound to the session.
- **OIDC** (``ENNAKOIVA_AUTH_MODE=oidc``): every request carries a JWT from the city's identity
  provider (Helsinki's profile runs on Keycloak); it is verified against the configured issuer,
  audience and JWKS (URL or file). The Ennakoiva role comes from the roles claim; a resident's
  pseudonymous person id from the person claim. The pages log in by the authorization-code flow
  (``interfaces/web/oidc_login.py``), verify its ID token here and then carry the same signed
  session cookie as the demo login.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

import jwt

from ennakoiva.domain.consent.decision import Actor
from ennakoiva.platform.platform import Platform
from ennakoiva.platform.roles import CAPACITIES, ROLES, Role, capacity_for
from ennakoiva.platform.settings import Settings

__all__ = ["SESSION_COOKIE", "SESSION_SECONDS", "AuthError", "OidcVerifier", "Principal", "issue_session",
           "read_session"]

SESSION_COOKIE = "ennakoiva_session"
SESSION_SECONDS = 8 * 3600
_SAFE_ID = re.compile(r"[^A-Za-z0-9._@:-]")


class AuthError(Exception):
    """Authentication failed; the message names why without echoing the token."""


@dataclass(frozen=True)
class Principal:
    """An authenticated user: id, role, display name, person id (residents) and session CSRF secret."""

    user_id: str
    role: Role
    display_name: str
    person_id: int | None = None
    csrf: str = ""
    source: str = "session"   # session | oidc

    @property
    def default_purpose(self) -> str:
        """The first purpose this role acts under ("" for a role that reads no personal data)."""
        return next(iter(CAPACITIES[self.role]), "")

    def actor(self, purpose_id: str) -> Actor:
        """The actor the access decision sees for this user under ``purpose_id``.

        A role without a capacity for the purpose still gets an actor (its first capacity, or the
        role itself) so that the refusal is decided and logged like any other.
        """
        capacity = capacity_for(self.role, purpose_id)
        if capacity is None:
            capacity = next(iter(CAPACITIES[self.role].values()), ("web", self.role))
        service, role = capacity
        return Actor(id=self.user_id, role=role, service=service)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue_session(platform: Platform, principal: Principal, *, seconds: int = SESSION_SECONDS) -> str:
    """A signed session token for ``principal`` (with a fresh CSRF secret)."""
    payload = {"u": principal.user_id, "r": principal.role, "n": principal.display_name, "p": principal.person_id,
               "c": principal.csrf or secrets.token_urlsafe(16), "exp": int(time.time()) + seconds}
    body = _b64(json.dumps(payload, separators=(",", ":")).encode())
    sig = _b64(hmac.new(platform.session_secret, body.encode(), hashlib.sha256).digest())
    return f"{body}.{sig}"


def read_session(platform: Platform, token: str) -> Principal:
    """The principal of a valid, unexpired session token; AuthError otherwise."""
    body, _, sig = token.partition(".")
    expected = _b64(hmac.new(platform.session_secret, body.encode(), hashlib.sha256).digest())
    if not sig or not hmac.compare_digest(sig, expected):
        raise AuthError("bad session signature")
    try:
        payload = json.loads(_unb64(body))
    except ValueError:
        raise AuthError("malformed session") from None
    if int(payload.get("exp", 0)) < time.time():
        raise AuthError("session expired")
    if payload.get("r") not in ROLES:
        raise AuthError("unknown role")
    return Principal(user_id=str(payload["u"]), role=payload["r"], display_name=str(payload.get("n", "")),
                     person_id=payload.get("p"), csrf=str(payload.get("c", "")), source="session")


def _claim(claims: dict[str, Any], path: str) -> Any:
    """The claim named ``path``, or reached by its dotted path (Keycloak: ``realm_access.roles``)."""
    if path in claims:
        return claims[path]
    node: Any = claims
    for part in path.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node if node is not None else []


class OidcVerifier:
    """Verify an identity provider's JWTs: signature by the JWKS, ``iss``, ``aud``, ``exp``."""

    ALGORITHMS = ("RS256", "RS384", "RS512", "ES256", "ES384", "PS256")

    def __init__(self, settings: Settings) -> None:
        if not settings.oidc_issuer or not settings.oidc_audience:
            raise ValueError("OIDC needs ENNAKOIVA_OIDC_ISSUER and ENNAKOIVA_OIDC_AUDIENCE")
        if not settings.oidc_jwks_url and not settings.oidc_jwks_file:
            raise ValueError("OIDC needs ENNAKOIVA_OIDC_JWKS_URL or ENNAKOIVA_OIDC_JWKS_FILE")
        self.settings = settings
        self._client = jwt.PyJWKClient(settings.oidc_jwks_url) if settings.oidc_jwks_url else None
        self._keys: jwt.PyJWKSet | None = None
        if settings.oidc_jwks_file:
            self._keys = jwt.PyJWKSet.from_json(settings.oidc_jwks_file.read_text(encoding="utf-8"))

    def _key(self, token: str) -> Any:
        if self._client is not None:
            return self._client.get_signing_key_from_jwt(token).key
        assert self._keys is not None
        kid = jwt.get_unverified_header(token).get("kid")
        for key in self._keys.keys:
            if kid is None or key.key_id == kid:
                return key.key
        raise AuthError("no key in the JWKS matches the token")

    def verify(self, token: str, *, audience: str | None = None, nonce: str | None = None) -> Principal:
        """The principal a valid token names; AuthError for any failure (never the token itself).

        The pages' login verifies its ID token here too, with ``audience`` the client id and the
        ``nonce`` it sent to the identity provider.
        """
        try:
            claims = jwt.decode(token, self._key(token), algorithms=list(self.ALGORITHMS),
                                audience=audience or self.settings.oidc_audience, issuer=self.settings.oidc_issuer,
                                options={"require": ["exp", "iss", "aud", "sub"]}, leeway=30)
        except (jwt.PyJWTError, ValueError) as exc:
            raise AuthError(f"token rejected: {type(exc).__name__}") from None
        if nonce is not None and not hmac.compare_digest(str(claims.get("nonce", "")), nonce):
            raise AuthError("token rejected: wrong nonce")
        raw_roles = _claim(claims, self.settings.oidc_roles_claim)
        roles = [raw_roles] if isinstance(raw_roles, str) else list(raw_roles or [])
        role = next((r for r in roles if r in ROLES), None)
        if role is None:
            raise AuthError("token carries no Ennakoiva role")
        person = claims.get(self.settings.oidc_person_claim)
        if role == "resident":
            try:
                person = int(person)
            except (TypeError, ValueError):
                raise AuthError("a resident's token must carry a person id") from None
        else:
            person = None
        user_id = _SAFE_ID.sub("_", str(claims["sub"]))[:120] or "unknown"
        name = str(claims.get("name") or claims.get("preferred_username") or user_id)
        return Principal(user_id=user_id, role=role, display_name=name, person_id=person, source="oidc")
