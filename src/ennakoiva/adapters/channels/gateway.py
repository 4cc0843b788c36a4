"""The SMS gateway port and the messages that cross it.

A gateway ``send`` must be idempotent on ``OutgoingSms.client_ref``: sending the same reference twice
returns the first send's provider message id and sends nothing (``SendResult.duplicate``). The outbox
sender relies on that to resend, after a crash, whatever it cannot prove was accepted.

Delivery reports and inbound messages reach the platform either by webhook (a real provider: see
``http_gateway.parse_*``) or by polling (:meth:`SmsGateway.poll`, for the simulator and recorder);
both are at-least-once, and the store deduplicates them by provider message id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

__all__ = ["DELIVERED", "FAILED_STATES", "DeliveryReport", "GatewayError", "InboundSms", "OutgoingSms",
           "SendResult", "SmsGateway"]

# Normalised delivery states (SMPP stat: values and Twilio's statuses map onto these).
DELIVERED = "delivered"
FAILED_STATES = frozenset({"undelivered", "expired", "rejected", "failed"})


class GatewayError(RuntimeError):
    """The provider refused or could not be reached; ``permanent`` says whether retrying can help."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True, slots=True)
class OutgoingSms:
    client_ref: str
    to: str
    text: str
    encoding: str = "GSM-7"
    segments: int = 1


@dataclass(frozen=True, slots=True)
class SendResult:
    provider_message_id: str
    duplicate: bool = False


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    provider: str
    provider_message_id: str
    status: str
    at: datetime
    client_ref: str | None = None


@dataclass(frozen=True, slots=True)
class InboundSms:
    provider: str
    provider_message_id: str
    from_phone: str
    text: str
    at: datetime


class SmsGateway(Protocol):
    """What the sender and the reply intake need from a provider."""

    name: str

    def send(self, message: OutgoingSms) -> SendResult:
        """Hand one SMS to the provider; idempotent on ``message.client_ref``."""
        ...

    def poll(self, limit: int = 1000) -> tuple[list[DeliveryReport], list[InboundSms]]:
        """Reports and inbound messages not yet acknowledged (empty for webhook-only providers)."""
        ...

    def ack(self, reports: list[DeliveryReport], inbound: list[InboundSms]) -> None:
        """Acknowledge what :meth:`poll` returned once the platform has stored it."""
        ...

    def close(self) -> None: ...
