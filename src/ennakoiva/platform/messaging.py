"""The messaging use cases: drain the outbox to a gateway, take in delivery reports and replies.

**Exactly once.** The sender claims queued messages (with a lease), hands each to the gateway with
its idempotency key as the provider's client reference, and records the provider id afterwards, a
batch at a time. Killed at any moment, a re-run (after the lease) resends what it cannot prove was
accepted; the gateway recognises the reference and returns the first id, so each SMS goes out once
and none is lost. With a provider that does not honour client references the window between its
acceptance and our record — at most one batch, ``--batch 1`` makes it one message — is
at-least-once: such a message may be sent twice after a crash, never lost.

**Replies.** :func:`receive_inbound` stores the reply (deduplicated by provider message id), asks
the domain's ``decide_reply`` what it means, records the transitions and queues what to send back in
one transaction, then sends those messages at once, so a confirmation leaves within the same request.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from ennakoiva.adapters.channels import (
    DeliveryReport,
    GatewayError,
    HttpGateway,
    InboundSms,
    OutgoingSms,
    SmsGateway,
    SmsSimulator,
)
from ennakoiva.adapters.channels.http_gateway import parse_delivery_report, parse_inbound
from ennakoiva.adapters.channels.simulator import FamilyBehaviour
from ennakoiva.adapters.stores.offer_repository import NewMessage, OfferSnapshot
from ennakoiva.adapters.stores.outbox_repository import (
    ClaimedMessage,
    InboundOutcome,
    ReplyPlan,
    SentMessage,
    SqlOutbox,
)
from ennakoiva.domain.messaging.templates import RenderedMessage
from ennakoiva.domain.services.definition import MessageKind, ServiceDefinition
from ennakoiva.domain.services.offer_state import ANSWERABLE, OPEN, OfferState, Transition
from ennakoiva.domain.services.reply_handling import (
    OfferView,
    OutgoingMessage,
    RecipientView,
    deadline_for,
    decide_reply,
    decide_unknown_number,
)
from ennakoiva.domain.types import Lang
from ennakoiva.platform.settings import Settings

__all__ = [
    "ON_DELIVERY",
    "ON_SENT",
    "OutboxSender",
    "PollReport",
    "ReplyDesk",
    "SendReport",
    "SmsWebhooks",
    "message_key",
    "next_deferred_offer",
    "open_gateway",
    "plan_reply",
    "poll_gateway",
    "receive_delivery_report",
    "receive_inbound",
    "render_offer_message",
    "utc_now",
]

# What a sent message or its delivery report does to its offer (only where the state allows it).
# (A confirmation is recorded with the answer itself — decide_reply's accept/decline + confirm.)
ON_SENT: Mapping[str, Transition] = {"offer": Transition.SEND}
_FAILED = dict.fromkeys(("undelivered", "expired", "rejected", "failed"), Transition.DELIVERY_FAILED)
ON_DELIVERY: Mapping[str, Mapping[str, Transition]] = {"offer": {"delivered": Transition.DELIVER, **_FAILED}}


def utc_now() -> datetime:
    return datetime.now(UTC)


def open_gateway(settings: Settings, *, behaviour: FamilyBehaviour | None = None) -> SmsGateway:
    """The gateway ``settings.sms_gateway`` names: the local simulator (default) or a real provider."""
    if settings.sms_gateway == "simulator":
        return SmsSimulator(settings.sms_simulator_file, behaviour)
    if settings.sms_gateway == "http":
        if not settings.sms_http_url:
            raise ValueError("ENNAKOIVA_SMS_HTTP_URL must be set for the http gateway")

        def secret(value: object) -> str | None:
            return value.get_secret_value() if value is not None else None  # type: ignore[attr-defined]

        return HttpGateway(settings.sms_http_url, token=secret(settings.sms_http_token),
                           username=settings.sms_http_username, password=secret(settings.sms_http_password),
                           sender=settings.sms_sender, webhook_secret=secret(settings.sms_webhook_secret))
    raise ValueError(f"ENNAKOIVA_SMS_GATEWAY must be 'simulator' or 'http', not {settings.sms_gateway!r}")


@dataclass(frozen=True)
class SendReport:
    sent: int
    duplicates: int
    failed: int
    deferred: int
    seconds: float


class OutboxSender:
    """Drains the outbox to one gateway; safe to kill at any moment and to run several at once."""

    def __init__(self, outbox: SqlOutbox, gateway: SmsGateway, *, lease: timedelta = timedelta(seconds=60),
                 batch: int = 100, rate: float | None = None, clock: Callable[[], datetime] = utc_now,
                 channel: str = "sms") -> None:
        if batch < 1:
            raise ValueError("batch must be at least 1")
        self.outbox, self.gateway, self.channel = outbox, gateway, channel
        self.lease, self.batch, self.rate, self.clock = lease, batch, rate, clock

    def drain(self, *, limit: int | None = None, ids: list[str] | None = None,
              progress: Callable[[int], None] | None = None) -> SendReport:
        """Send until the outbox is empty (or ``limit`` messages); transient failures wait for the next run."""
        started = time.perf_counter()
        totals = [0, 0, 0, 0]
        while limit is None or totals[0] + totals[1] < limit:
            size = self.batch if limit is None else min(self.batch, limit - totals[0] - totals[1])
            claimed = self.outbox.claim(size, self.lease, self.clock(), ids=ids, channel=self.channel)
            if not claimed:
                break
            counts, transient = self._send_batch(claimed)
            totals = [a + b for a, b in zip(totals, counts, strict=True)]
            if progress is not None:
                progress(counts[0] + counts[1])
            if transient:
                break
        return SendReport(*totals, time.perf_counter() - started)

    def send_claimed(self, claimed: Sequence[ClaimedMessage]) -> SendReport:
        """Send messages already claimed for this sender (e.g. a reply's confirmation)."""
        started = time.perf_counter()
        counts, _ = self._send_batch(claimed)
        return SendReport(*counts, time.perf_counter() - started)

    def _send_batch(self, claimed: Sequence[ClaimedMessage]) -> tuple[list[int], bool]:
        """Hand each message to the gateway, then record the accepted ones in one transaction.

        Returns [sent, duplicates, failed, deferred] and whether a transient failure stopped it.
        """
        sent = duplicates = failed = deferred = 0
        accepted: list[SentMessage] = []
        transient = False
        for message in claimed:
            if transient:  # the provider is struggling: give the rest back at once
                self.outbox.mark_failed(message.message_id, "deferred", permanent=False)
                deferred += 1
                continue
            try:
                result = self.gateway.send(OutgoingSms(message.idempotency_key, message.phone, message.body,
                                                       message.encoding, message.segments))
            except GatewayError as exc:
                self.outbox.mark_failed(message.message_id, str(exc), permanent=exc.permanent)
                failed += exc.permanent
                deferred += not exc.permanent
                transient = transient or not exc.permanent
                continue
            accepted.append(SentMessage(message.message_id, self.gateway.name, result.provider_message_id,
                                        self.clock()))
            duplicates += result.duplicate
            sent += not result.duplicate
            if self.rate:
                time.sleep(1.0 / self.rate)
        self.outbox.mark_sent(accepted, ON_SENT)
        return [sent, duplicates, failed, deferred], transient


def receive_delivery_report(outbox: SqlOutbox, report: DeliveryReport, *, at: datetime | None = None) -> str:
    """Store and apply one delivery report: ``applied``, ``duplicate`` or ``unmatched``."""
    return outbox.record_delivery_report(report.provider, report.provider_message_id, report.status, report.at,
                                         at or utc_now(), client_ref=report.client_ref, on_delivery=ON_DELIVERY)


@dataclass(frozen=True)
class PollReport:
    reports: int
    duplicate_reports: int
    replies: int
    duplicate_replies: int


def poll_gateway(outbox: SqlOutbox, gateway: SmsGateway,
                 handle_reply: Callable[[InboundSms], bool], *, limit: int = 1000,
                 until: datetime | None = None) -> PollReport:
    """Pull reports and replies from a polling gateway (the simulator), apply them, acknowledge them.

    ``handle_reply`` returns whether the reply was new. Acknowledging only after storing makes the
    pull at-least-once; the store's dedup makes it act once. ``until`` (simulator only) also takes
    events the simulated families will have sent by then.
    """
    reports = dups = replies = dup_replies = 0
    while True:
        if until is not None and isinstance(gateway, SmsSimulator):
            polled_reports, polled_inbound = gateway.poll(limit, until=until)
        else:
            polled_reports, polled_inbound = gateway.poll(limit)
        if not polled_reports and not polled_inbound:
            break
        for report in polled_reports:
            outcome = receive_delivery_report(outbox, report)
            reports += 1
            dups += outcome == "duplicate"
        for inbound in polled_inbound:
            replies += 1
            dup_replies += not handle_reply(inbound)
        gateway.ack(polled_reports, polled_inbound)
    return PollReport(reports, dups, replies, dup_replies)


# -- replies ---------------------------------------------------------------------------------------

def message_key(offer_id: str, kind: str, recipient_id: int | None, attempt: int) -> str:
    """The outbox idempotency key: one message per offer, kind, recipient and attempt.

    >>> message_key("o1", "offer", 42, 1)
    'o1|offer|42|1'
    """
    return f"{offer_id}|{kind}|{recipient_id if recipient_id is not None else '-'}|{attempt}"


def render_offer_message(definition: ServiceDefinition, kind: MessageKind | str, lang: Lang,
                         fields: Mapping[str, Any]) -> RenderedMessage:
    """Render a message of an offer from the fields stored with it (dates are stored as ISO text)."""
    template_fields = definition.template(kind, lang).fields
    values: dict[str, Any] = {}
    for name in template_fields:
        value = fields[name]
        if definition.fields[name].type == "date" and isinstance(value, str):
            value = date.fromisoformat(value)
        values[name] = value
    return definition.render(kind, lang, **values)


def _asked(snap: OfferSnapshot, person: int) -> bool:
    """Whether this person has been sent the offer (a deferred one has no offer message yet)."""
    return snap.count("offer", person) > 0


def _pick(snapshots: list[OfferSnapshot], phone: str) -> OfferSnapshot:
    """The offer a reply answers.

    A phone with several children's offers is asked about one at a time, so the offer it was sent
    and has not answered yet is the one meant; failing that (a change of mind), the offer still open
    to answers that this phone answered last; failing that, the newest one.
    """
    def mine(s: OfferSnapshot) -> dict[str, Any]:
        return next(r for r in s.recipients if r["phone"] == phone)

    waiting = [s for s in snapshots if s.state in OPEN | {OfferState.ANSWERED}
               and mine(s)["answer"] is None and _asked(s, int(mine(s)["person_id"]))]
    if waiting:
        return waiting[0]
    asked = [s for s in snapshots if _asked(s, int(mine(s)["person_id"]))] or snapshots
    answerable = [s for s in asked if s.state in ANSWERABLE]
    if not answerable:
        return asked[0]
    answered = [s for s in answerable if mine(s)["answered_at"] is not None]
    return max(answered, key=lambda s: mine(s)["answered_at"]) if answered else answerable[0]


_AWAITING = OPEN | {OfferState.DRAFTED, OfferState.ANSWERED}
# Outcomes after which the phone's next deferred offer (twins, siblings) is sent.
_CLOSES_QUESTION = frozenset({"accepted", "declined", "held_for_caseworker", "answer_recorded", "late"})


def next_deferred_offer(snapshots: Sequence[OfferSnapshot], phone: str, exclude: str | None,
                        definitions: Mapping[str, ServiceDefinition], lang: str | None = None,
                        ) -> NewMessage | None:
    """The offer message a phone was held back from (another child's offer came first), if any.

    Offers still awaiting answers whose recipient with this phone has no offer message yet, oldest child
    first; rendered in ``lang`` (the person's latest choice) or the recipient's own language.
    """
    pending = []
    for s in snapshots:
        if s.offer_id == exclude or s.state not in _AWAITING:
            continue
        r = next(r for r in s.recipients if r["phone"] == phone)
        if not _asked(s, int(r["person_id"])):
            pending.append((s.created_at, s.subject_id, s, r))
    if not pending:
        return None
    _, _, snap, r = min(pending, key=lambda p: (p[0], p[1]))
    definition = definitions[snap.service_id]
    language: Any = lang or r["language"]
    rendered = render_offer_message(definition, MessageKind.OFFER, language, snap.fields)
    person = int(r["person_id"])
    return NewMessage(message_key(snap.offer_id, "offer", person, 1), "offer", phone, language, rendered.text,
                      rendered.encoding, rendered.segments, snap.offer_id, person)


def plan_reply(snapshots: list[OfferSnapshot], inbound: InboundSms, definitions: Mapping[str, ServiceDefinition],
               default_service: str) -> ReplyPlan:
    """What one reply does, from the offers its phone number has (pure; runs inside the store's transaction)."""
    if not snapshots:
        definition = definitions[default_service]
        unknown = decide_unknown_number(definition)
        msg = unknown.messages[0]
        text = definition.render(msg.kind, msg.lang)  # the generic text: no field, no personal data
        key = f"unknown|{inbound.provider}|{inbound.provider_message_id}"
        return ReplyPlan(unknown.outcome, messages=[NewMessage(key, msg.kind.value, inbound.from_phone, msg.lang,
                                                               text.text, text.encoding, text.segments)])
    snap = _pick(snapshots, inbound.from_phone)
    definition = definitions[snap.service_id]
    people = {str(r["person_id"]): r for r in snap.recipients}
    respondent = next(r for r in snap.recipients if r["phone"] == inbound.from_phone)
    view = OfferView(
        state=snap.state, respondent=str(respondent["person_id"]),
        recipients=tuple(RecipientView(str(r["person_id"]), r["language"], r["answer"],
                                       snap.count(MessageKind.CLARIFY.value, r["person_id"]),
                                       snap.count(MessageKind.LATE.value, r["person_id"])) for r in snap.recipients),
        deadline=deadline_for(snap.delivered_at, definition) if snap.delivered_at else None)
    outcome = decide_reply(view, inbound.text, inbound.at, definition)
    messages = [_reply_message(snap, definition, m, people[m.recipient_id]) for m in outcome.messages]
    person = int(respondent["person_id"])
    if outcome.outcome in _CLOSES_QUESTION:
        deferred = next_deferred_offer(snapshots, inbound.from_phone, snap.offer_id, definitions,
                                       outcome.language or respondent["language"])
        if deferred is not None:
            messages.append(deferred)
    return ReplyPlan(outcome.outcome, snap.offer_id, outcome.choice,
                     [(person, outcome.record_answer)] if outcome.record_answer else [], outcome.transitions,
                     messages, f"guardian:{person}", (person, outcome.language) if outcome.language else None,
                     person if outcome.opt_out else None)


def _reply_message(snap: OfferSnapshot, definition: ServiceDefinition, msg: OutgoingMessage,
                   recipient: Mapping[str, Any]) -> NewMessage:
    person = int(recipient["person_id"])
    rendered = render_offer_message(definition, msg.kind, msg.lang, snap.fields)
    key = message_key(snap.offer_id, msg.kind.value, person, snap.count(msg.kind.value, person) + 1)
    return NewMessage(key, msg.kind.value, recipient["phone"], msg.lang, rendered.text, rendered.encoding,
                      rendered.segments, snap.offer_id, person)


@dataclass
class ReplyDesk:
    """Takes in replies: decide and record in one transaction, then send what they queued at once."""

    outbox: SqlOutbox
    definitions: Mapping[str, ServiceDefinition]
    default_service: str
    sender: OutboxSender | None = None
    clock: Callable[[], datetime] = field(default=utc_now)
    serialise: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def receive(self, inbound: InboundSms) -> InboundOutcome:
        """Decide and record (one transaction, its messages claimed for us), then send them at once.

        ``serialise`` (SQLite) queues this process's replies on a lock instead of letting their
        transactions collide in SQLite's busy handler, whose back-off sleeps dominate latency.
        """
        if not self.serialise:
            return self._receive(inbound)
        with self._lock:
            return self._receive(inbound)

    def _receive(self, inbound: InboundSms) -> InboundOutcome:
        lease = self.sender.lease if self.sender is not None else None
        outcome = self.outbox.handle_inbound(
            inbound.provider, inbound.provider_message_id, inbound.from_phone, inbound.text, inbound.at,
            self.clock(), lambda snaps: plan_reply(snaps, inbound, self.definitions, self.default_service),
            claim_for=lease)
        if outcome.claimed and self.sender is not None:
            self.sender.send_claimed(outcome.claimed)
        return outcome


def receive_inbound(desk: ReplyDesk, inbound: InboundSms) -> InboundOutcome:
    """The webhook's and the poller's entry point for one inbound SMS (duplicates change nothing)."""
    return desk.receive(inbound)


@dataclass
class SmsWebhooks:
    """What the provider's webhooks do: verify and parse the body, then act once (the router is thin).

    ``provider`` names the gateway whose message ids the bodies carry; ``secret`` checks the
    ``X-Signature`` HMAC when set.
    """

    outbox: SqlOutbox
    desk: ReplyDesk
    provider: str
    secret: str | None = None

    def inbound(self, body: bytes, headers: Mapping[str, str]) -> dict[str, Any]:
        """An inbound SMS: decided, recorded and answered (the confirmation is sent before this returns)."""
        message = parse_inbound(body, headers, provider=self.provider, secret=self.secret)
        outcome = receive_inbound(self.desk, message)
        return {"duplicate": outcome.duplicate, "outcome": outcome.outcome, "sent": len(outcome.queued)}

    def delivery_report(self, body: bytes, headers: Mapping[str, str]) -> dict[str, Any]:
        report = parse_delivery_report(body, headers, provider=self.provider, secret=self.secret)
        return {"result": receive_delivery_report(self.outbox, report)}
