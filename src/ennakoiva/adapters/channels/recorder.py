"""An in-memory gateway for tests: records every send, dedups by client reference, injects events.

It can be told to fail (``fail_next``) or to duplicate its reports, so tests can show that a
provider error leaves a message queued and that a duplicated report changes nothing.
"""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime

from ennakoiva.adapters.channels.gateway import (
    DELIVERED,
    DeliveryReport,
    GatewayError,
    InboundSms,
    OutgoingSms,
    SendResult,
)

__all__ = ["RecordingGateway"]


class RecordingGateway:
    """Records sends in order; ``deliveries`` counts provider-side hand-overs per client reference."""

    name = "recorder"

    def __init__(self, *, report_delivery: bool = True) -> None:
        self.sent: list[OutgoingSms] = []
        self.ids: dict[str, str] = {}
        self.deliveries: dict[str, int] = {}
        self.fail_next = 0
        self._reports: list[DeliveryReport] = []
        self._inbound: list[InboundSms] = []
        self._counter = itertools.count(1)
        self._lock = threading.Lock()
        self._report_delivery = report_delivery

    def send(self, message: OutgoingSms) -> SendResult:
        with self._lock:
            if self.fail_next > 0:
                self.fail_next -= 1
                raise GatewayError("recorder told to fail")
            known = self.ids.get(message.client_ref)
            if known is not None:
                return SendResult(known, duplicate=True)
            provider_id = f"rec-{next(self._counter)}"
            self.ids[message.client_ref] = provider_id
            self.deliveries[message.client_ref] = self.deliveries.get(message.client_ref, 0) + 1
            self.sent.append(message)
            if self._report_delivery:
                self._reports.append(DeliveryReport(self.name, provider_id, DELIVERED, datetime.now(UTC),
                                                    message.client_ref))
            return SendResult(provider_id)

    def inject_reply(self, from_phone: str, text: str, *, at: datetime | None = None,
                     provider_message_id: str | None = None) -> InboundSms:
        """Queue an inbound SMS as if a family had answered; returns it (for webhook-style tests)."""
        with self._lock:
            inbound = InboundSms(self.name, provider_message_id or f"mo-{next(self._counter)}", from_phone, text,
                                 at or datetime.now(UTC))
            self._inbound.append(inbound)
            return inbound

    def inject_report(self, report: DeliveryReport) -> None:
        """Queue a delivery report as the provider would send it (again, late, out of order)."""
        with self._lock:
            self._reports.append(report)

    def to(self, phone: str) -> list[OutgoingSms]:
        """Every message sent to one phone, in order."""
        return [m for m in self.sent if m.to == phone]

    def poll(self, limit: int = 1000) -> tuple[list[DeliveryReport], list[InboundSms]]:
        with self._lock:
            return list(self._reports[:limit]), list(self._inbound[:limit])

    def ack(self, reports: list[DeliveryReport], inbound: list[InboundSms]) -> None:
        with self._lock:
            done_r, done_i = set(map(id, reports)), set(map(id, inbound))
            self._reports = [r for r in self._reports if id(r) not in done_r]
            self._inbound = [i for i in self._inbound if id(i) not in done_i]

    def close(self) -> None:
        return None
