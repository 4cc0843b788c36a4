"""SMS channels: the gateway port and its three implementations.

- :class:`RecordingGateway` (``recorder.py``): in memory, for tests.
- :class:`SmsSimulator` (``simulator.py``): the embedded default, a local SMS centre in its own SQLite
  file that emits delivery reports and whose simulated families answer with configurable behaviour.
- :class:`HttpGateway` (``http_gateway.py``): a real provider over HTTP, with webhook parsing.

Every gateway deduplicates sends by the client reference the sender passes (the outbox message's
idempotency key), which is what makes a resend after a crash harmless. Never imports SQLAlchemy.
"""

from ennakoiva.adapters.channels.gateway import (
    DeliveryReport,
    GatewayError,
    InboundSms,
    OutgoingSms,
    SendResult,
    SmsGateway,
)
from ennakoiva.adapters.channels.http_gateway import HttpGateway, WebhookError
from ennakoiva.adapters.channels.recorder import RecordingGateway
from ennakoiva.adapters.channels.simulator import FamilyBehaviour, SmsSimulator

__all__ = [
    "DeliveryReport",
    "FamilyBehaviour",
    "GatewayError",
    "HttpGateway",
    "InboundSms",
    "OutgoingSms",
    "RecordingGateway",
    "SendResult",
    "SmsGateway",
    "SmsSimulator",
    "WebhookError",
]
