"""The demo's campaign story: the pre-school offer by SMS, end to end, with the local simulator.

``campaign run`` finds the children turning six (a population read decided and logged under the
service's purpose), the outbox is drained to the simulator, the simulated families answer with the
behaviour the settings give (``sms_demo_answer_rate``/``sms_demo_accept_rate``; undeliverable numbers, delays, typos,
language switches and disagreeing guardians drawn from a seeded generator — no result is fixed), each
reply is decided and confirmed at once, and the metrics are computed from the store's rows.

The story starts afresh each run in its own files in the demo folder (store, simulator, audit
checkpoints), so a second demo never resends the first one's messages to the same simulator.
:func:`simulate_family_replies` is also what ``ennakoiva campaign simulate-replies`` runs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from ennakoiva.adapters.channels import SmsSimulator
from ennakoiva.adapters.channels.simulator import FamilyBehaviour, Question
from ennakoiva.domain.consent.decision import Actor
from ennakoiva.domain.services.definition import Action
from ennakoiva.platform.campaign_metrics import campaign_metrics
from ennakoiva.platform.campaigns import Messaging, open_messaging, run_campaign, send_fallbacks
from ennakoiva.platform.messaging import poll_gateway, receive_inbound
from ennakoiva.platform.operational import open_operational
from ennakoiva.platform.settings import Settings

__all__ = ["ASKING", "CampaignStory", "Replies", "campaign_story", "questions", "simulate_family_replies"]

ASKING = ("offer", "resend", "reminder", "clarify")   # messages that ask for an answer
SERVICE = "preschool-offer"
ACTOR = Actor(id="demo-campaign", role="messaging-service", service="early-childhood-education")


@dataclass(frozen=True)
class Replies:
    released: int
    replies: int
    duplicate_replies: int


def questions(messaging: Messaging) -> list[Question]:
    """Every sent SMS that asks for an answer, with its family (the offer) and guardian rank (letters are
    answered in the e-service, which the simulator does not play)."""
    found = []
    switch = {sid: {lang: [c for c, o in d.reply_options.items() if o.action is Action.RESEND_LANGUAGE
                           and o.language != lang] for lang in ("fi", "sv", "en")}
              for sid, d in messaging.definitions.items()}
    snaps: dict[str, Any] = {}
    for m in messaging.outbox.messages():
        if m["kind"] not in ASKING or m["status"] != "sent" or m["offer_id"] is None or m["channel"] != "sms":
            continue
        if m["offer_id"] not in snaps:
            snaps[m["offer_id"]] = messaging.offers.read_snapshot(m["offer_id"])
        snap = snaps[m["offer_id"]]
        rank = [r["person_id"] for r in snap.recipients].index(m["recipient_id"])
        found.append(Question(m["provider_message_id"], m["offer_id"], rank, m["language"],
                              tuple(switch[snap.service_id][m["language"]])))
    return found


def simulate_family_replies(messaging: Messaging, *, rounds: int = 3, hours: float = 72.0) -> Replies:
    """Let the simulator's families answer what was sent to them and process their replies.

    Each round answers what the previous one sent (a family that asked for Swedish answers the
    Swedish offer next round; the next twin's offer goes out once the first is answered).
    """
    gateway = messaging.gateway
    if not isinstance(gateway, SmsSimulator):
        raise ValueError("simulated replies need the simulator gateway (ENNAKOIVA_SMS_GATEWAY=simulator)")
    released = replies = duplicates = 0
    for _ in range(rounds):
        _receive(messaging)  # delivery reports first: deadlines count from delivery
        until = datetime.now(UTC) + timedelta(hours=hours)
        released += gateway.simulate_replies(questions(messaging), until=until)
        polled = poll_gateway(messaging.outbox, gateway,
                              lambda inbound: not receive_inbound(messaging.desk, inbound).duplicate, until=until)
        replies += polled.replies
        duplicates += polled.duplicate_replies
        messaging.sender.drain()
    _receive(messaging)
    return Replies(released, replies, duplicates)


# Of the SMS the demo sends, this share is undeliverable (a number out of use): those families get
# the offer by the fallback letter batch, as the definition says.
DEMO_FAILURE_RATE = 0.01


def _receive(messaging: Messaging) -> int:
    """Reports and replies in; undeliverable offers out by letter. Returns the letters batched."""
    poll_gateway(messaging.outbox, messaging.gateway, lambda i: not receive_inbound(messaging.desk, i).duplicate)
    return send_fallbacks(messaging)


@dataclass
class CampaignStory:
    """What the demo prints: the steps, the totals and the breakdowns."""

    steps: list[tuple[str, str]] = field(default_factory=list)
    total: dict[str, Any] = field(default_factory=dict)
    by_language: dict[str, dict[str, Any]] = field(default_factory=dict)
    by_district: dict[str, dict[str, Any]] = field(default_factory=dict)
    seconds: float = 0.0


def campaign_story(db: Path, folder: Path, on: date, *, settings: Settings | None = None,
                   behaviour: FamilyBehaviour | None = None) -> CampaignStory:
    """Run the pre-school campaign on the city in ``db`` with a fresh store and simulator in ``folder``."""
    started = time.perf_counter()
    base = settings or Settings()
    for name in ("campaign-store.sqlite3", "campaign-store.sqlite3-wal", "campaign-store.sqlite3-shm",
                 "campaign-sms.sqlite3", "campaign-sms.sqlite3-wal", "campaign-sms.sqlite3-shm",
                 "campaign-checkpoints.jsonl"):
        (folder / name).unlink(missing_ok=True)
    for batch in (folder / "campaign-letters").glob("letters-*.jsonl"):
        batch.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    settings = base.model_copy(update={
        "db_url": f"sqlite:///{folder / 'campaign-store.sqlite3'}", "audit_key_file": folder / "audit.key",
        "audit_checkpoint_file": folder / "campaign-checkpoints.jsonl", "sms_gateway": "simulator",
        "sms_simulator_file": folder / "campaign-sms.sqlite3", "letter_batch_dir": folder / "campaign-letters"})
    behaviour = behaviour or FamilyBehaviour(answer_rate=base.sms_demo_answer_rate,
                                             accept_rate=base.sms_demo_accept_rate, failure_rate=DEMO_FAILURE_RATE)
    story = CampaignStory()
    with open_operational(settings) as ops, open_messaging(settings, behaviour=behaviour) as messaging:
        run = run_campaign(ops, messaging, db, SERVICE, on, ACTOR)
        story.steps.append(("campaign run preschool-offer", f"{run.subjects} children found, {run.created} offers, "
                                                            f"{run.queued} messages queued ({run.without_phone} "
                                                            f"without a guardian's phone: by letter)"))
        sent = messaging.sender.drain()
        letters = _receive(messaging)
        story.steps.append(("outbox drained to the simulator", f"{sent.sent} sent, {sent.duplicates} resends "
                                                               f"absorbed, {sent.failed} refused"))
        story.steps.append(("fallback: letter batch (no phone, SMS undeliverable)",
                            f"{letters} letters in {folder / 'campaign-letters'}"))
        replies = simulate_family_replies(messaging)
        story.steps.append(("families answer (simulated)",
                            f"answer rate {behaviour.answer_rate:.0%}, accept rate {behaviour.accept_rate:.0%} "
                            f"as configured: {replies.replies} replies, each decided and answered at once"))
        metrics = campaign_metrics(messaging.offers, run.campaign_id)
    story.total, story.by_language, story.by_district = (metrics["total"], metrics["by_language"],
                                                         metrics["by_district"])
    story.seconds = time.perf_counter() - started
    return story
