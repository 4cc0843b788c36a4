"""A real SMS provider over HTTP (httpx): send, and parse its delivery-report and inbound webhooks.

The provider contract this adapter speaks (a small JSON API most SMS providers can be configured
to or fronted with):

- ``POST {url}/messages`` with ``{"to", "text", "sender", "client_reference"}`` and the header
  ``Idempotency-Key: <client_reference>``; authentication by bearer token or basic user/password.
  ``200/201/202 {"id": …}`` is a new message; ``409 {"id": …}`` (or a 200 with
  ``"duplicate": true``) says the reference was seen before and nothing was sent.
- Webhooks POST JSON to the platform: a delivery report ``{"id", "status", "timestamp",
  "client_reference"?}`` and an inbound message ``{"id", "from", "text", "timestamp"}``, each signed
  with ``X-Signature: hex(HMAC-SHA256(secret, raw body))`` when a webhook secret is configured.

A provider that honours the idempotency key gives exactly-once sending with the outbox. One that
does not leaves a window: a crash after the provider accepted a message and before the outbox
recorded it resends that message (at-least-once, at most one batch of the sender). See
``platform/messaging.py``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from ennakoiva.adapters.channels.gateway import (
    DeliveryReport,
    GatewayError,
    InboundSms,
    OutgoingSms,
    SendResult,
)

__all__ = ["STATUS_MAP", "HttpGateway", "WebhookError", "normalise_status", "parse_delivery_report", "parse_inbound",
           "sign", "verify_webhook"]

# SMPP stat: values and common HTTP-provider statuses onto the normalised delivery states.
STATUS_MAP = {
    "delivrd": "delivered", "delivered": "delivered", "read": "delivered",
    "undeliv": "undelivered", "undelivered": "undelivered",
    "expired": "expired", "rejectd": "rejected", "rejected": "rejected", "deleted": "failed", "failed": "failed",
    "canceled": "failed", "enroute": "sent", "acceptd": "sent", "accepted": "sent", "sent": "sent",
    "sending": "sent", "queued": "sent", "scheduled": "sent", "unknown": "unknown",
}


class WebhookError(ValueError):
    """A webhook body that is unsigned, wrongly signed or not in the provider's shape."""


def normalise_status(raw: str) -> str:
    """A provider's delivery status in the normalised vocabulary.

    >>> normalise_status("DELIVRD"), normalise_status("undelivered"), normalise_status("weird")
    ('delivered', 'undelivered', 'unknown')
    """
    return STATUS_MAP.get(raw.strip().lower(), "unknown")


def sign(secret: str, body: bytes) -> str:
    """The signature a provider puts in ``X-Signature`` for ``body``."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _timestamp(value: object) -> datetime:
    if value in (None, ""):
        return datetime.now(UTC)
    try:
        at = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise WebhookError("timestamp is not ISO 8601") from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


class HttpGateway:
    """The provider adapter; ``transport`` lets tests put an ``httpx.MockTransport`` underneath."""

    def __init__(self, url: str, *, token: str | None = None, username: str | None = None,
                 password: str | None = None, sender: str = "Helsinki", webhook_secret: str | None = None,
                 timeout: float = 10.0, name: str = "http", transport: httpx.BaseTransport | None = None) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        auth = httpx.BasicAuth(username, password or "") if username else None
        self.name = name
        self.sender = sender
        self.webhook_secret = webhook_secret
        self._client = httpx.Client(base_url=url.rstrip("/"), headers=headers, auth=auth, timeout=timeout,
                                    transport=transport)

    def send(self, message: OutgoingSms) -> SendResult:
        payload = {"to": message.to, "text": message.text, "sender": self.sender,
                   "client_reference": message.client_ref}
        try:
            response = self._client.post("/messages", json=payload,
                                         headers={"Idempotency-Key": message.client_ref})
        except httpx.HTTPError as exc:
            # Timeouts included: the provider may have accepted it; the resend is deduplicated.
            raise GatewayError(f"provider unreachable: {type(exc).__name__}") from None
        if response.status_code in (200, 201, 202, 409):
            try:
                body = response.json()
                provider_id = str(body["id"])
            except (ValueError, KeyError, TypeError):
                raise GatewayError(f"provider answered {response.status_code} without a message id") from None
            return SendResult(provider_id, duplicate=response.status_code == 409 or bool(body.get("duplicate")))
        permanent = 400 <= response.status_code < 500 and response.status_code not in (408, 429)
        raise GatewayError(f"provider refused the message: HTTP {response.status_code}", permanent=permanent)

    def poll(self, limit: int = 1000) -> tuple[list[DeliveryReport], list[InboundSms]]:
        """Webhook-only: reports and replies arrive through :meth:`parse_delivery_report` and
        :meth:`parse_inbound` instead."""
        return [], []

    def ack(self, reports: list[DeliveryReport], inbound: list[InboundSms]) -> None:
        return None

    def close(self) -> None:
        self._client.close()

    # -- webhooks ----------------------------------------------------------------------------------

    def parse_delivery_report(self, body: bytes, headers: Mapping[str, str]) -> DeliveryReport:
        return parse_delivery_report(body, headers, provider=self.name, secret=self.webhook_secret)

    def parse_inbound(self, body: bytes, headers: Mapping[str, str]) -> InboundSms:
        return parse_inbound(body, headers, provider=self.name, secret=self.webhook_secret)


def verify_webhook(body: bytes, headers: Mapping[str, str], secret: str | None) -> dict[str, Any]:
    """Check the signature (when a secret is configured) and parse the JSON body."""
    if secret:
        given = next((v for k, v in headers.items() if k.lower() == "x-signature"), "")
        if not hmac.compare_digest(given, sign(secret, body)):
            raise WebhookError("webhook signature does not match")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise WebhookError("webhook body is not JSON") from None
    if not isinstance(data, dict):
        raise WebhookError("webhook body must be a JSON object")
    return data


def parse_delivery_report(body: bytes, headers: Mapping[str, str], *, provider: str,
                          secret: str | None) -> DeliveryReport:
    """A delivery-report webhook as a :class:`DeliveryReport` (status normalised)."""
    data = verify_webhook(body, headers, secret)
    provider_id = data.get("id") or data.get("message_id")
    status = data.get("status")
    if not isinstance(provider_id, str | int) or not isinstance(status, str):
        raise WebhookError("a delivery report needs 'id' and 'status'")
    ref = data.get("client_reference")
    return DeliveryReport(provider, str(provider_id), normalise_status(status), _timestamp(data.get("timestamp")),
                          str(ref) if ref is not None else None)


def parse_inbound(body: bytes, headers: Mapping[str, str], *, provider: str, secret: str | None) -> InboundSms:
    """An inbound-message webhook as an :class:`InboundSms`."""
    data = verify_webhook(body, headers, secret)
    provider_id, sender, text = data.get("id"), data.get("from"), data.get("text")
    if not isinstance(provider_id, str | int) or not isinstance(sender, str) or not isinstance(text, str):
        raise WebhookError("an inbound message needs 'id', 'from' and 'text'")
    return InboundSms(provider, str(provider_id), sender, text, _timestamp(data.get("timestamp")))
