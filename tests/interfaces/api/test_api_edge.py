"""The edge: a privacy-preserving access log, webhook rate limits, the overview served from memory."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from ennakoiva.interfaces.api.security import RateLimitMiddleware, TokenBucket
from ennakoiva.platform.platform import Platform


def test_access_log_has_route_templates_not_ids(platform: Platform, client, bearer,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    assert platform.demo_family is not None
    person = platform.demo_family[1]
    headers = bearer("nurse")
    with caplog.at_level(logging.INFO, logger="ennakoiva.access"):
        client.get(f"/api/people/{person}/data", params={"tables": "person", "x": str(person)}, headers=headers)
    lines = [r.getMessage() for r in caplog.records if r.name == "ennakoiva.access"]
    assert any("/api/people/{person_id}/data 200" in line for line in lines), lines
    assert not any(str(person) in line for line in lines)


def test_token_bucket_refills() -> None:
    now = [0.0]
    bucket = TokenBucket(rate=2.0, burst=3, clock=lambda: now[0])
    assert [bucket.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take("a") == pytest.approx(0.5)
    assert bucket.take("b") == 0.0          # per client
    now[0] = 0.5
    assert bucket.take("a") == 0.0


def test_rate_limit_answers_429_problem_on_webhooks_only() -> None:
    calls: list[str] = []

    async def inner(scope, receive, send) -> None:
        calls.append(scope["path"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    app = RateLimitMiddleware(inner, bucket=TokenBucket(rate=0.001, burst=2))

    async def hit(path: str) -> int:
        sent: list[dict] = []

        async def send(message) -> None:
            sent.append(message)

        async def receive() -> dict:
            return {"type": "http.request", "body": b""}

        await app({"type": "http", "path": path, "client": ("10.0.0.1", 1)}, receive, send)
        return int(sent[0]["status"])

    statuses = [asyncio.run(hit("/api/webhooks/sms")) for _ in range(4)]
    assert statuses == [200, 200, 429, 429]
    assert asyncio.run(hit("/api/overview")) == 200   # other paths are not limited


def test_overview_is_served_from_memory(platform: Platform, client, bearer) -> None:
    headers = bearer("analyst")
    body = client.get("/api/overview", headers=headers).json()
    residents = next(f for f in body["figures"] if f["key"] == "residents")
    assert residents["value"] > 0 and residents["change_day"] is not None and residents["change_month"] is not None
    started = time.perf_counter()
    for _ in range(20):
        assert client.get("/api/overview", headers=headers).status_code == 200
    assert (time.perf_counter() - started) / 20 < 0.3
