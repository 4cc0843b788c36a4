"""The pages' OpenID Connect login: authorization code + PKCE against a fake identity provider.

The provider runs on 127.0.0.1 in a thread (discovery document, JWKS, token endpoint) and signs its
ID tokens with the test's own RSA key; the browser's trip to the provider is played by the test,
which reads the authorization request and issues a code for it. No request leaves localhost.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import socket
import threading
import time
import warnings
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from api_support import platform_settings

from ennakoiva.interfaces.api import create_app
from ennakoiva.interfaces.web.oidc_login import STATE_COOKIE
from ennakoiva.platform.platform import Platform, build_platform

CLIENT_ID = "ennakoiva-pages"
CLIENT_SECRET = "pages-secret"   # the fake provider's test secret
REDIRECT_URI = "http://testserver/auth/callback"
HTML = {"Accept": "text/html"}


class FakeIdp:
    """A Keycloak-like provider: discovery, JWKS and a token endpoint that checks the PKCE verifier."""

    def __init__(self, key: Any) -> None:
        self.key = key
        self.codes: dict[str, dict[str, Any]] = {}
        self.tokens: list[str] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.issuer = f"{self.base}/realms/helsinki"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeIdp:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)

    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**jwk, "kid": "idp-1", "use": "sig", "alg": "RS256"}]}

    def discovery(self) -> dict[str, Any]:
        oidc = f"{self.issuer}/protocol/openid-connect"
        return {"issuer": self.issuer, "authorization_endpoint": f"{oidc}/auth", "token_endpoint": f"{oidc}/token",
                "jwks_uri": f"{oidc}/certs", "end_session_endpoint": f"{oidc}/logout"}

    def issue(self, challenge: str, sent_nonce: str, role: str = "nurse", key: Any = None, **claims: Any) -> str:
        """The code the provider would send back after the user logged in (as ``role``)."""
        body = {"iss": self.issuer, "aud": CLIENT_ID, "sub": f"kc-{role}", "exp": int(time.time()) + 300,
                "iat": int(time.time()), "nonce": sent_nonce, "name": f"Test {role}",
                "realm_access": {"roles": ["offline_access", role]}, **claims}
        token = jwt.encode({k: v for k, v in body.items() if v is not None}, key or self.key, algorithm="RS256",
                           headers={"kid": "idp-1"})
        code = secrets.token_urlsafe(16)
        with self.lock:
            self.codes[code] = {"challenge": challenge, "id_token": token}
            self.tokens.append(token)
        return code

    def _token(self, form: dict[str, str], authorization: str) -> tuple[int, dict[str, Any]]:
        expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if authorization != expected:
            return 401, {"error": "invalid_client"}
        with self.lock:
            grant = self.codes.pop(form.get("code", ""), None)   # a code is good once
        if grant is None or form.get("grant_type") != "authorization_code" or form.get("redirect_uri") != REDIRECT_URI:
            return 400, {"error": "invalid_grant"}
        verifier = form.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if challenge != grant["challenge"]:
            return 400, {"error": "invalid_grant", "error_description": "PKCE verification failed"}
        return 200, {"access_token": "opaque", "token_type": "Bearer", "expires_in": 300,
                     "id_token": grant["id_token"]}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        idp = self

        class Handler(BaseHTTPRequestHandler):
            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path.endswith("/.well-known/openid-configuration"):
                    self._send(200, idp.discovery())
                elif self.path.endswith("/certs"):
                    self._send(200, idp.jwks())
                else:
                    self._send(404, {"error": "not_found"})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = dict(parse_qsl(self.rfile.read(length).decode()))
                if self.path.endswith("/token"):
                    self._send(*idp._token(form, self.headers.get("Authorization", "")))
                else:
                    self._send(404, {"error": "not_found"})

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


@pytest.fixture(scope="module")
def idp() -> Iterator[FakeIdp]:
    with FakeIdp(rsa.generate_private_key(public_exponent=65537, key_size=2048)) as provider:
        yield provider


@pytest.fixture(scope="module")
def app(small_city, tmp_path_factory: pytest.TempPathFactory, idp: FakeIdp) -> Iterator[tuple[TestClient, Platform]]:
    settings = platform_settings(
        tmp_path_factory.mktemp("oidc-login"), auth_mode="oidc", oidc_issuer=idp.issuer, oidc_audience="ennakoiva-api",
        oidc_jwks_url=idp.discovery()["jwks_uri"], oidc_roles_claim="realm_access.roles", oidc_client_id=CLIENT_ID,
        oidc_client_secret=CLIENT_SECRET, oidc_redirect_uri=REDIRECT_URI)
    platform = build_platform(settings, city=small_city.db)
    with TestClient(create_app(platform)) as client:
        yield client, platform
    platform.close()


@pytest.fixture(autouse=True)
def only_localhost(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Every outgoing connection of a test (the app's and the JWKS client's) goes to 127.0.0.1."""
    seen: list[Any] = []
    connect = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> Any:
        seen.append(address)
        if not (isinstance(address, tuple) and address[0] in ("127.0.0.1", "::1")):
            raise AssertionError(f"a connection left localhost: {address!r}")
        return connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    yield seen
    assert all(a[0] in ("127.0.0.1", "::1") for a in seen)


def _start(client: TestClient, **params: str) -> dict[str, str]:
    client.cookies.clear()
    response = client.get("/login/oidc", params=params, follow_redirects=False)
    assert response.status_code == 303, response.text
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}


def _login(client: TestClient, idp: FakeIdp, role: str = "nurse", *, headers: dict[str, str] | None = None,
           **claims: Any) -> Any:
    query = _start(client)
    code = idp.issue(query["code_challenge"], query["nonce"], role, **claims)
    return client.get("/auth/callback", params={"code": code, "state": query["state"]}, headers=headers,
                      follow_redirects=False)


def _refusals(platform: Platform, before: int) -> list[str]:
    return [e.reason for e in platform.operational.audit.entries(before + 1)
            if e.actor_id == "anonymous" and e.decision == "deny" and e.purpose_id == "web-authentication"]


def test_login_page_offers_the_identity_provider(app) -> None:
    client, _ = app
    response = client.get("/login", headers={**HTML, "Accept-Language": "en"})
    assert response.status_code == 200
    assert "Sign in with the city&#39;s identity provider" in response.text and 'href="/login/oidc"' in response.text
    assert 'name="password"' not in response.text


def test_redirect_carries_state_nonce_and_pkce(app, idp: FakeIdp) -> None:
    client, _ = app
    client.cookies.clear()
    response = client.get("/login/oidc", follow_redirects=False)
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == idp.discovery()["authorization_endpoint"]
    query = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert query["response_type"] == "code" and query["client_id"] == CLIENT_ID
    assert query["redirect_uri"] == REDIRECT_URI and query["scope"] == "openid profile"
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert len(query["state"]) >= 32 and len(query["nonce"]) >= 32 and query["state"] != query["nonce"]
    cookie = response.headers["set-cookie"]
    assert STATE_COOKIE in cookie and "HttpOnly" in cookie and "Path=/auth/callback" in cookie
    assert "samesite=lax" in cookie.lower()
    # every login gets its own state and nonce
    again = _start(client)
    assert again["state"] != query["state"] and again["nonce"] != query["nonce"]


@pytest.mark.parametrize(("role", "home"), [("nurse", "/overview"), ("dpo", "/audit")])
def test_callback_logs_in_and_lands_on_the_roles_page(app, idp: FakeIdp, role: str, home: str) -> None:
    client, _ = app
    response = _login(client, idp, role)
    assert response.status_code == 303 and response.headers["location"] == home
    assert client.get(home, headers=HTML).status_code == 200
    me = client.get("/api/me").json()   # the same session cookie as the demo login
    assert me["role"] == role and me["user_id"] == f"kc-{role}" and me["display_name"] == f"Test {role}"


def test_resident_lands_on_own_data(app, idp: FakeIdp) -> None:
    client, platform = app
    assert platform.demo_family is not None
    response = _login(client, idp, "resident", person_id=str(platform.demo_family[1]))
    assert response.headers["location"] == "/mydata"
    assert client.get("/mydata", headers=HTML).status_code == 200
    assert client.get("/api/mydata").json()["subject_id"] == platform.demo_family[1]


def test_next_page_is_kept_but_only_on_this_site(app, idp: FakeIdp) -> None:
    client, _ = app
    for asked, landed in (("/tables", "/tables"), ("https://evil.example/", "/overview")):
        query = _start(client, next=asked)
        code = idp.issue(query["code_challenge"], query["nonce"])
        response = client.get("/auth/callback", params={"code": code, "state": query["state"]},
                              follow_redirects=False)
        assert response.headers["location"] == landed


def test_wrong_state_is_refused_and_audited(app, idp: FakeIdp) -> None:
    client, platform = app
    before = platform.operational.audit.last()[0]
    query = _start(client)
    code = idp.issue(query["code_challenge"], query["nonce"])
    response = client.get("/auth/callback", params={"code": code, "state": "forged"}, follow_redirects=False)
    assert response.status_code == 400 and response.json()["code"] == "oidc_state_invalid"
    assert _refusals(platform, before) == ["oidc_state_invalid"]
    # without the state cookie (another browser) the right state is refused too
    client.cookies.clear()
    response = client.get("/auth/callback", params={"code": code, "state": query["state"]}, follow_redirects=False)
    assert response.status_code == 400
    assert client.get("/api/me").status_code == 401


def test_replayed_code_is_refused(app, idp: FakeIdp) -> None:
    client, platform = app
    query = _start(client)
    sealed = client.cookies.get(STATE_COOKIE, path="/auth/callback")
    assert sealed
    code = idp.issue(query["code_challenge"], query["nonce"])
    params = {"code": code, "state": query["state"]}
    assert client.get("/auth/callback", params=params, follow_redirects=False).status_code == 303
    client.cookies.clear()
    client.cookies.set(STATE_COOKIE, sealed, path="/auth/callback")   # the whole callback request replayed
    before = platform.operational.audit.last()[0]
    response = client.get("/auth/callback", params=params, follow_redirects=False)
    assert response.status_code == 403 and response.json()["code"] == "oidc_code_rejected"
    assert _refusals(platform, before) == ["oidc_code_rejected"]


def test_code_for_another_pkce_challenge_is_refused(app, idp: FakeIdp) -> None:
    client, _ = app
    query = _start(client)
    other = base64.urlsafe_b64encode(hashlib.sha256(b"someone else").digest()).rstrip(b"=").decode()
    code = idp.issue(other, query["nonce"])
    response = client.get("/auth/callback", params={"code": code, "state": query["state"]}, follow_redirects=False)
    assert response.status_code == 403 and response.json()["code"] == "oidc_code_rejected"


@pytest.mark.parametrize("claims", [{"nonce": "another-login"}, {"nonce": None}, {"aud": "ennakoiva-api"},
                                    {"aud": "someone-else"}, {"exp": int(time.time()) - 3600},
                                    {"iss": "https://evil.example/realms/helsinki"},
                                    {"realm_access": {"roles": ["admin"]}}, {"sub": None}])
def test_invalid_id_token_is_refused(app, idp: FakeIdp, claims: dict[str, Any]) -> None:
    client, platform = app
    before = platform.operational.audit.last()[0]
    response = _login(client, idp, **claims)
    assert response.status_code == 403 and response.json()["code"] == "oidc_token_invalid"
    assert STATE_COOKIE not in response.headers.get("set-cookie", "")
    assert client.get("/api/me").status_code == 401
    assert _refusals(platform, before) == ["oidc_token_invalid"]


def test_id_token_signed_by_another_key_is_refused(app, idp: FakeIdp) -> None:
    client, _ = app
    evil = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    response = _login(client, idp, key=evil)
    assert response.status_code == 403 and client.get("/api/me").status_code == 401


def test_resident_without_person_id_is_refused(app, idp: FakeIdp) -> None:
    assert _login(app[0], idp, "resident").status_code == 403


def test_provider_error_is_an_error_page(app) -> None:
    client, platform = app
    query = _start(client)
    before = platform.operational.audit.last()[0]
    response = client.get("/auth/callback", params={"error": "access_denied", "state": query["state"]},
                          headers={**HTML, "Accept-Language": "en"}, follow_redirects=False)
    assert response.status_code == 403 and response.headers["content-type"].startswith("text/html")
    assert "The login did not succeed" in response.text
    assert _refusals(platform, before) == ["oidc_denied"]


def test_refusals_log_no_token_or_code(app, idp: FakeIdp, caplog: pytest.LogCaptureFixture) -> None:
    client, _ = app
    caplog.set_level("DEBUG")
    query = _start(client)
    code = idp.issue(query["code_challenge"], "wrong-nonce")
    client.get("/auth/callback", params={"code": code, "state": query["state"]}, follow_redirects=False)
    # the server's side only: the test client logs the URL it requests itself
    logged = "\n".join(r.getMessage() for r in caplog.records if "http://testserver" not in r.getMessage())
    assert "oidc_token_invalid" in logged
    for secret in (code, idp.tokens[-1], query["state"], query["nonce"], CLIENT_SECRET):
        assert secret not in logged


def test_logout_clears_the_session_and_ends_the_provider_session(app, idp: FakeIdp) -> None:
    client, _ = app
    assert _login(client, idp).status_code == 303
    page = client.get("/overview", headers=HTML)
    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    response = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == idp.discovery()["end_session_endpoint"]
    assert parse_qs(location.query) == {"client_id": [CLIENT_ID], "post_logout_redirect_uri": ["http://testserver/login"]}
    assert client.get("/api/me").status_code == 401


def test_bearer_tokens_still_verified_for_the_api(app, idp: FakeIdp) -> None:
    client, _ = app
    client.cookies.clear()
    token = jwt.encode({"iss": idp.issuer, "aud": "ennakoiva-api", "sub": "svc", "exp": int(time.time()) + 60,
                        "realm_access": {"roles": ["analyst"]}}, idp.key, algorithm="RS256", headers={"kid": "idp-1"})
    response = client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200 and response.json()["role"] == "analyst"


def test_no_oidc_login_in_demo_mode(client) -> None:
    client.cookies.clear()
    assert client.get("/login/oidc", follow_redirects=False).status_code == 404
    assert client.get("/auth/callback", params={"code": "x", "state": "y"}).status_code == 404
