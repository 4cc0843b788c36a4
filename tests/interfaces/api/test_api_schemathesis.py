"""Fuzzing the API from its own OpenAPI document (Schemathesis): no 500, every 4xx a problem document.

Kept quick: a few examples per operation, called as three roles (so that both the permitted and the
refused paths are exercised).
"""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import schemathesis

from ennakoiva.interfaces.api import create_app
from ennakoiva.platform.platform import Platform

ROLES = ("nurse", "resident", "dpo")


@pytest.fixture(scope="module")
def fuzz_app(platform: Platform) -> Any:
    return create_app(platform)


@pytest.fixture(scope="module")
def tokens(client, bearer) -> dict[str, dict[str, str]]:
    return {role: bearer(role) for role in ROLES}


def _check_problem(response: Any, where: str) -> None:
    assert response.status_code < 500, f"{where}: {response.status_code} {response.text[:300]}"
    if response.status_code >= 400:
        content_type = response.headers["content-type"]
        content_type = content_type[0] if isinstance(content_type, list) else content_type
        assert content_type.startswith("application/problem+json"), where
        body = response.json()
        assert body["status"] == response.status_code and body["type"] and body["title"], where


def test_no_server_errors_and_problem_documents(fuzz_app: Any, tokens: dict[str, dict[str, str]]) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def fuzz(case: Any) -> None:
            for role, headers in tokens.items():
                _check_problem(case.call(headers=headers), f"{case.method} {case.formatted_path} as {role}")
            _check_problem(case.call(), f"{case.method} {case.formatted_path} anonymous")

        fuzz()
