"""Fixtures for the API tests: a platform on the small city with its own store, a client, logins."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator

import pytest

with warnings.catch_warnings():
    # Starlette asks for httpx2 when it imports its test client; plain httpx works the same here
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from api_support import PASSWORD, platform_settings

from ennakoiva.interfaces.api import create_app
from ennakoiva.platform.platform import Platform, build_platform


@pytest.fixture(scope="module")
def platform(small_city, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    built = build_platform(platform_settings(tmp_path_factory.mktemp("web")), city=small_city.db)
    yield built
    built.close()


@pytest.fixture(scope="module")
def client(platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform)) as c:
        yield c


@pytest.fixture(scope="module")
def bearer(client: TestClient) -> Callable[[str], dict[str, str]]:
    """``bearer("nurse")`` → the Authorization header of a fresh demo session."""
    def login(username: str) -> dict[str, str]:
        response = client.post("/api/session", json={"username": username, "password": PASSWORD})
        assert response.status_code == 200, response.text
        client.cookies.clear()   # the API tests authenticate by bearer token only
        return {"Authorization": f"Bearer {response.json()['token']}"}
    return login
