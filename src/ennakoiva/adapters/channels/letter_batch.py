"""The fallback channel: a letter batch for suomi.fi messages or print (no real provider here).

A recipient without a phone, one whose SMS could not be delivered, or one who opted out of SMS gets
the service's message by its definition's fallback channel. The outbox hands those messages to this
gateway like SMS — with the idempotency key as the client reference — and it appends them to a
batch file (JSON lines, one file per day) in ``folder``, which a print house or the suomi.fi
messages interface would take over. The address is the recipient's pseudonymous person id
(``person:<id>``): the receiving service resolves it from the population register, so the batch
holds no address, name or identity code.

Idempotent like every gateway: a client reference already in a batch returns its first id and writes
nothing, so a resend after a crash never prints a letter twice. Handing a letter to the batch is its
delivery as far as the city can know: :meth:`poll` reports it ``delivered`` once (deadlines count
from it). Never imports SQLAlchemy.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path

from ennakoiva.adapters.channels.gateway import (
    DELIVERED,
    DeliveryReport,
    GatewayError,
    InboundSms,
    OutgoingSms,
    SendResult,
)

__all__ = ["LETTER_ADDRESS_PREFIX", "LetterBatchGateway"]

LETTER_ADDRESS_PREFIX = "person:"


class LetterBatchGateway:
    """Writes fallback messages to daily batch files in ``folder`` (created on first use)."""

    name = "letter-batch"

    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)
        self._lock = threading.Lock()
        self._known: dict[str, str] | None = None
        self._reports: list[DeliveryReport] = []

    def _index(self) -> dict[str, str]:
        if self._known is None:
            self._known = {}
            for path in sorted(self.folder.glob("letters-*.jsonl")):
                for line in path.read_text("utf-8").splitlines():
                    item = json.loads(line)
                    self._known.setdefault(item["client_ref"], item["letter_id"])
        return self._known

    def send(self, message: OutgoingSms) -> SendResult:
        if not message.to.startswith(LETTER_ADDRESS_PREFIX):
            raise GatewayError("a letter is addressed to a person id", permanent=True)
        with self._lock:
            known = self._index()
            if message.client_ref in known:
                return SendResult(known[message.client_ref], duplicate=True)
            now = datetime.now(UTC)
            batch = self.folder / f"letters-{now:%Y%m%d}.jsonl"
            letter_id = f"letter-{now:%Y%m%d}-{len(known) + 1}"
            self.folder.mkdir(parents=True, exist_ok=True)
            record = {"letter_id": letter_id, "client_ref": message.client_ref, "to": message.to,
                      "text": message.text, "batched_at": now.isoformat()}
            with batch.open("a", encoding="utf-8") as out:
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
            known[message.client_ref] = letter_id
            self._reports.append(DeliveryReport(self.name, letter_id, DELIVERED, now, message.client_ref))
        return SendResult(letter_id)

    def letters(self) -> list[dict[str, str]]:
        """Every letter in the batch files, in order (tests, the demo)."""
        out: list[dict[str, str]] = []
        for path in sorted(self.folder.glob("letters-*.jsonl")):
            out += [json.loads(line) for line in path.read_text("utf-8").splitlines()]
        return out

    def poll(self, limit: int = 1000) -> tuple[list[DeliveryReport], list[InboundSms]]:
        with self._lock:
            return self._reports[:limit], []

    def ack(self, reports: list[DeliveryReport], inbound: list[InboundSms]) -> None:
        done = {id(r) for r in reports}
        with self._lock:
            self._reports = [r for r in self._reports if id(r) not in done]

    def close(self) -> None:
        return None
