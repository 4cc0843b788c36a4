"""The service owner's campaign console: run a proactive service, see its offers and metrics live,
and — with the embedded SMS simulator — read the families' phones and answer as one of them.

Composes the proactive-services use cases (``platform.campaigns``, ``platform.messaging``,
``platform.campaign_metrics``); nothing here decides or sends anything of its own. Running a
campaign is a population read decided and logged under the service's purpose in the owner's name.
"""

from __future__ import annotations

import threading
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Any

from ennakoiva.adapters.channels import SmsSimulator
from ennakoiva.domain.consent.decision import Actor
from ennakoiva.platform.campaign_metrics import campaign_metrics
from ennakoiva.platform.campaigns import Messaging, build_messaging, run_campaign, send_fallbacks
from ennakoiva.platform.messaging import poll_gateway, receive_inbound
from ennakoiva.platform.operational import Operational
from ennakoiva.platform.settings import Settings

__all__ = ["CampaignConsole"]

MAX_OFFERS_SHOWN = 200
MAX_PHONES_SHOWN = 50


class CampaignConsole:
    """One per application: the messaging side is built on first use and shared by the requests."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._messaging: Messaging | None = None
        self._lock = threading.Lock()

    @property
    def messaging(self) -> Messaging:
        with self._lock:
            if self._messaging is None:
                self._messaging = build_messaging(self.settings)
            return self._messaging

    @property
    def simulated(self) -> bool:
        """Whether the SMS gateway is the local simulator (only then is there an inbox to show)."""
        return isinstance(self.messaging.gateway, SmsSimulator)

    def services(self) -> list[str]:
        return sorted(self.messaging.definitions)

    def run(self, ops: Operational, city_db: Path, service_id: str, on: date, actor: Actor) -> dict[str, Any]:
        """Run, send what was queued, and take in what the gateway already has (delivery reports)."""
        messaging = self.messaging
        result = run_campaign(ops, messaging, city_db, service_id, on, actor)
        sent = messaging.sender.drain()
        polled = self._poll()
        return {**asdict(result), "send": asdict(sent), "receive": polled}

    def _poll(self) -> dict[str, Any]:
        messaging = self.messaging
        report = poll_gateway(messaging.outbox, messaging.gateway,
                              lambda inbound: not receive_inbound(messaging.desk, inbound).duplicate)
        messaging.sender.drain()
        send_fallbacks(messaging)  # letters for those the SMS did not reach, as `campaign send` does
        return asdict(report)

    def overview(self) -> list[dict[str, Any]]:
        """Every campaign with its offers per state and its metrics (computed from the store's rows)."""
        self._poll()
        offers = self.messaging.offers
        out = []
        for c in offers.campaigns():
            cid = c["campaign_id"]
            out.append({**{k: str(v) for k, v in c.items()}, "states": offers.state_counts(cid),
                        "metrics": campaign_metrics(offers, cid)["total"]})
        return out

    def offers(self, campaign_id: str) -> list[dict[str, Any]]:
        """The campaign's offers (first ones) with their state and recipients' answers."""
        offers = self.messaging.offers
        out = []
        for offer_id in offers.offer_ids(campaign_id)[:MAX_OFFERS_SHOWN]:
            snap = offers.read_snapshot(offer_id)
            out.append({"offer_id": snap.offer_id, "subject_id": snap.subject_id, "state": str(snap.state),
                        "language": snap.language, "district": snap.district,
                        "deadline_at": snap.deadline_at.isoformat() if snap.deadline_at else None,
                        "recipients": [{k: (str(v) if v is not None else None) for k, v in r.items()}
                                       for r in snap.recipients]})
        return out

    def inbox(self, phone: str | None = None) -> dict[str, list[dict[str, str]]]:
        """The simulator's phones and the messages each received (the demo families' handsets)."""
        gateway = self.messaging.gateway
        if not isinstance(gateway, SmsSimulator):
            return {}
        self._poll()
        phones: dict[str, list[dict[str, str]]] = {}
        for ref, to_phone, text in gateway.messages(phone):
            if to_phone not in phones and len(phones) >= MAX_PHONES_SHOWN:
                continue
            phones.setdefault(to_phone, []).append({"ref": ref, "text": text})
        return phones

    def answer(self, phone: str, text: str) -> dict[str, Any]:
        """Reply from a simulated phone, as a guardian would; the reply is processed at once."""
        gateway = self.messaging.gateway
        if not isinstance(gateway, SmsSimulator):
            raise LookupError("the SMS gateway is not the simulator")
        if phone not in {to for _, to, _ in gateway.messages(phone)}:
            raise LookupError("no such phone in the simulator")
        gateway.inject_reply(phone, text[:320])
        return self._poll()

    def close(self) -> None:
        with self._lock:
            if self._messaging is not None:
                self._messaging.close()
                self._messaging = None
