"""Security at the edge: response headers, a privacy-preserving access log and webhook rate limits.

Written as plain ASGI middleware (no per-request task switching), so that they add microseconds,
not milliseconds, to the consent-decision path the load benchmark measures.

- **Headers**: a Content-Security-Policy that allows only this origin (every asset is served
  locally; no CDN), ``frame-ancestors 'none'``, ``X-Content-Type-Options: nosniff``, a strict
  Referrer-Policy and no caching of personal pages.
- **Access log**: method, the *route template* (``/api/people/{person_id}/data``, never the id),
  status and milliseconds — no query strings, no ids, no tokens.
- **Rate limits**: a token bucket per client address on the public webhooks (``/api/webhooks``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = ["CSP", "AccessLogMiddleware", "RateLimitMiddleware", "SecurityHeadersMiddleware", "TokenBucket"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
_HEADERS = [(b"content-security-policy", CSP.encode()), (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"), (b"referrer-policy", b"no-referrer"),
            (b"cross-origin-opener-policy", b"same-origin"),
            (b"permissions-policy", b"geolocation=(), camera=(), microphone=()")]

access_log = logging.getLogger("ennakoiva.access")


class SecurityHeadersMiddleware:
    """Adds the security headers to every HTTP response (and ``no-store`` outside static assets)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += _HEADERS
                if not static:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class AccessLogMiddleware:
    """One line per request: method, route template, status, milliseconds — nothing personal.

    The time until the response starts is also sent as ``Server-Timing: app;dur=<ms>`` (what the
    benchmark reads as server time).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                took = (time.perf_counter() - started) * 1000
                message["headers"] = [*message.get("headers", []), (b"server-timing", f"app;dur={took:.2f}".encode())]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or ("/static/…" if scope["path"].startswith("/static/")
                                                         else "(unmatched)")
            access_log.info("%s %s %d %.1fms", scope["method"], template, status,
                            (time.perf_counter() - started) * 1000)


class TokenBucket:
    """``rate`` tokens per second up to ``burst``, per key; thread-safe."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self.clock = rate, burst, clock
        self._state: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """0 when a token was taken; otherwise the seconds until one will be free."""
        with self._lock:
            at = self.clock()
            tokens, last = self._state.get(key, (float(self.burst), at))
            tokens = min(float(self.burst), tokens + (at - last) * self.rate)
            if tokens >= 1:
                self._state[key] = (tokens - 1, at)
                if len(self._state) > 10_000:   # forget idle clients rather than grow without bound
                    self._state = {k: v for k, v in self._state.items() if at - v[1] < 60}
                return 0.0
            self._state[key] = (tokens, at)
            return (1 - tokens) / self.rate


class RateLimitMiddleware:
    """429 problem documents once a client exceeds the bucket on paths under ``prefix``."""

    def __init__(self, app: ASGIApp, *, bucket: TokenBucket, prefix: str = "/api/webhooks") -> None:
        self.app, self.bucket, self.prefix = app, bucket, prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(self.prefix):
            client = (scope.get("client") or ("unknown", 0))[0]
            wait = self.bucket.take(str(client))
            if wait > 0:
                body = (b'{"type":"urn:ennakoiva:problem:rate_limited","title":"Too many requests","status":429,'
                        b'"code":"rate_limited","detail":"slow down","instance":"' + self.prefix.encode() + b'"}')
                await send({"type": "http.response.start", "status": 429,
                            "headers": [(b"content-type", b"application/problem+json"),
                                        (b"retry-after", str(max(1, round(wait))).encode()),
                                        (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
