"""Production authentication: JWTs from the city's identity provider, verified against a local JWKS."""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from api_support import platform_settings

from ennakoiva.interfaces.api import create_app
from ennakoiva.platform.platform import Platform, build_platform

ISSUER = "https://tunnistus.example.test/realms/helsinki"
AUDIENCE = "ennakoiva"


@pytest.fixture(scope="module")
def keys() -> tuple[Any, Any]:
    good = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    evil = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return good, evil


@pytest.fixture(scope="module")
def oidc(small_city, tmp_path_factory: pytest.TempPathFactory, keys: tuple[Any, Any]) -> Iterator[
        tuple[TestClient, Platform]]:
    folder = tmp_path_factory.mktemp("oidc")
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(keys[0].public_key()))
    jwks = folder / "jwks.json"
    jwks.write_text(json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}))
    settings = platform_settings(folder, auth_mode="oidc", oidc_issuer=ISSUER, oidc_audience=AUDIENCE,
                                 oidc_jwks_file=Path(jwks))
    platform = build_platform(settings, city=small_city.db)
    with TestClient(create_app(platform)) as client:
        yield client, platform
    platform.close()


def _token(key: Any, **claims: Any) -> str:
    body = {"iss": ISSUER, "aud": AUDIENCE, "sub": "user-1", "exp": int(time.time()) + 300, "roles": ["nurse"],
            **claims}
    return jwt.encode({k: v for k, v in body.items() if v is not None}, key, algorithm="RS256",
                      headers={"kid": "k1"})


def _get(client: TestClient, token: str, path: str = "/api/me") -> Any:
    return client.get(path, headers={"Authorization": f"Bearer {token}"})


def test_valid_token_names_the_role(oidc, keys) -> None:
    client, _ = oidc
    response = _get(client, _token(keys[0]))
    assert response.status_code == 200 and response.json()["role"] == "nurse"


@pytest.mark.parametrize("claims", [{"aud": "someone-else"}, {"iss": "https://evil.example"},
                                    {"exp": int(time.time()) - 3600}, {"sub": None}])
def test_bad_claims_are_401(oidc, keys, claims: dict[str, Any]) -> None:
    response = _get(oidc[0], _token(keys[0], **claims))
    assert response.status_code == 401 and response.json()["code"] == "invalid_token"


def test_foreign_signature_is_401(oidc, keys) -> None:
    assert _get(oidc[0], _token(keys[1])).status_code == 401


def test_token_without_a_known_role_is_401(oidc, keys) -> None:
    assert _get(oidc[0], _token(keys[0], roles=["admin"])).status_code == 401


def test_resident_token_reads_only_own_data(oidc, keys) -> None:
    client, platform = oidc
    assert platform.demo_family is not None
    me = platform.demo_family[1]
    response = _get(client, _token(keys[0], roles=["resident"], person_id=str(me)), "/api/mydata")
    assert response.status_code == 200 and response.json()["subject_id"] == me
    # a resident role without a person id is refused
    assert _get(client, _token(keys[0], roles=["resident"]), "/api/mydata").status_code == 401


def test_role_from_token_is_enforced(oidc, keys) -> None:
    assert _get(oidc[0], _token(keys[0]), "/api/audit/entries").status_code == 403
    assert _get(oidc[0], _token(keys[0], roles="dpo"), "/api/audit/entries").status_code == 200


def test_no_demo_login_in_oidc_mode(oidc) -> None:
    response = oidc[0].post("/api/session", json={"username": "nurse", "password": "x"})
    assert response.status_code == 404
