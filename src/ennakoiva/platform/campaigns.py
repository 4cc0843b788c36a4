"""``campaign run``: find a service's target group, resolve recipients, create offers, queue messages.

The population read is one decision under the service's purpose, decided and written to the audit
log before any data is read (no log, no read). Offers, their recipients, first transitions and the
offer messages then go to the operational store in one transaction; re-running the same service on
the same date adds only subjects that are new (see ``SqlOfferStore.create_campaign``).

Also here: the composition of the messaging side (:func:`open_messaging`) and the clock-driven
steps — reminders and expiry — that ``campaign remind`` and ``campaign expire`` run.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import pyarrow as pa

from ennakoiva.adapters.channels import SmsGateway
from ennakoiva.adapters.channels.letter_batch import LETTER_ADDRESS_PREFIX, LetterBatchGateway
from ennakoiva.adapters.channels.simulator import FamilyBehaviour
from ennakoiva.adapters.engine import DuckDBEngine
from ennakoiva.adapters.stores import create_engine, upgrade
from ennakoiva.adapters.stores.offer_repository import NewMessage, NewOffer, NewRecipient, OfferSnapshot, SqlOfferStore
from ennakoiva.adapters.stores.outbox_repository import ReplyPlan, SqlOutbox
from ennakoiva.domain.consent.decision import Actor
from ennakoiva.domain.fees import FeeParameters, load_fee_parameters
from ennakoiva.domain.messaging.templates import RenderedMessage
from ennakoiva.domain.services import load_service, load_services
from ennakoiva.domain.services.definition import MessageKind, ServiceDefinition
from ennakoiva.domain.services.offer_state import OfferState, Transition
from ennakoiva.domain.services.reply_handling import RecipientView, deadline_for, decide_timeout
from ennakoiva.platform.access import AccessDeniedError
from ennakoiva.platform.messaging import (
    OutboxSender,
    ReplyDesk,
    SendReport,
    message_key,
    next_deferred_offer,
    open_gateway,
    poll_gateway,
    render_offer_message,
    utc_now,
)
from ennakoiva.platform.operational import Operational
from ennakoiva.platform.settings import Settings

__all__ = ["LETTER", "CampaignRun", "Messaging", "TimeoutRun", "build_messaging", "build_offers",
           "find_campaign_targets", "letter_message", "open_messaging", "queue_fallbacks", "release_deferred_offers",
           "run_campaign", "run_timeouts", "send_fallbacks"]


@dataclass
class Messaging:
    """The wired messaging side: store repositories, the gateway, the sender and the reply desk."""

    settings: Settings
    offers: SqlOfferStore
    outbox: SqlOutbox
    gateway: SmsGateway
    sender: OutboxSender
    desk: ReplyDesk
    definitions: dict[str, ServiceDefinition]
    _engine: Any
    letters: OutboxSender | None = None   # the fallback channel's sender (letter batch)

    def close(self) -> None:
        self.gateway.close()
        if self.letters is not None:
            self.letters.gateway.close()
        self._engine.dispose()

    def drain(self) -> tuple[SendReport, SendReport | None]:
        """Send everything queued: SMS to the gateway, fallback letters to the letter batch."""
        return self.sender.drain(), self.letters.drain() if self.letters is not None else None


def build_messaging(settings: Settings, *, gateway: SmsGateway | None = None,
                    behaviour: FamilyBehaviour | None = None, batch: int = 100, rate: float | None = None,
                    lease: timedelta | None = None, clock: Callable[[], datetime] = utc_now,
                    migrate: bool = True) -> Messaging:
    """The store (migrated), the gateway the settings name, and the sender and reply desk wired to them.

    The caller closes it (``Messaging.close``); :func:`open_messaging` does that for a ``with`` block.
    """
    engine = create_engine(settings.db_url)
    if migrate:
        upgrade(engine)
    gw = gateway or open_gateway(settings, behaviour=behaviour)
    offers = SqlOfferStore(engine)
    outbox = SqlOutbox(engine, offers)
    lease = lease if lease is not None else timedelta(seconds=settings.outbox_lease_seconds)
    sender = OutboxSender(outbox, gw, lease=lease, batch=batch, rate=rate, clock=clock)
    definitions = {d.id: d for d in load_services()}
    default = "preschool-offer" if "preschool-offer" in definitions else next(iter(definitions))
    desk = ReplyDesk(outbox, definitions, default_service=default, sender=sender, clock=clock,
                     serialise=engine.dialect.name == "sqlite")
    letters = OutboxSender(outbox, LetterBatchGateway(settings.letter_batch_dir), lease=lease, batch=batch,
                           clock=clock, channel=LETTER)
    return Messaging(settings, offers, outbox, gw, sender, desk, definitions, engine, letters)


@contextmanager
def open_messaging(settings: Settings, **kwargs: Any) -> Iterator[Messaging]:
    """:func:`build_messaging` for a ``with`` block."""
    messaging = build_messaging(settings, **kwargs)
    try:
        yield messaging
    finally:
        messaging.close()


@dataclass(frozen=True)
class CampaignRun:
    campaign_id: str
    service_id: str
    on: date
    subjects: int
    created: int
    existing: int
    queued: int
    without_phone: int
    incomplete: int
    find_seconds: float
    store_seconds: float


def find_campaign_targets(engine: DuckDBEngine, definition: ServiceDefinition, on: date) -> pa.Table:
    """The target rows (one per subject and guardian) from the trigger compiled to SQL."""
    from ennakoiva.adapters.engine.service_triggers import find_targets  # noqa: PLC0415 - built by a sibling module

    return find_targets(engine, definition, on)


def build_offers(targets: pa.Table, definition: ServiceDefinition, on: date, at: datetime,
                 *, max_segments: int | None = None) -> tuple[list[NewOffer], int, int]:
    """Group target rows into offers, one per subject, with a message per guardian in their language.

    Guardians sharing one phone get one message (one respondent); a subject none of whose guardians
    has a phone gets the offer by the fallback channel (a letter per guardian in the letter batch).
    One phone with several children in the group (twins, siblings) gets their offers one at a time (reference §9: "send
    sequentially"): the first child's offer now, the next one's when the first is answered or closes
    (see ``messaging.plan_reply`` and :func:`release_deferred_offers`), so a one-letter answer always
    means one child. Subjects with no guardian phone get no SMS offer (they are counted: the fallback
    channel is the city's other route), nor do subjects whose offer would lack a field (e.g. no
    unit). Returns (offers, without phone, incomplete).
    """
    reply_by = deadline_for(at, definition).date()
    rows = targets.to_pylist()
    by_subject: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        by_subject.setdefault(int(row["subject_id"]), []).append(row)
    offers: list[NewOffer] = []
    without_phone = incomplete = 0
    texts: dict[tuple[str, tuple[tuple[str, Any], ...]], RenderedMessage] = {}
    asked: set[str] = set()  # phones that already have an offer of this run waiting for them
    for subject_id, guardians in sorted(by_subject.items()):
        recipients: list[NewRecipient] = []
        phones: set[str] = set()
        for g in sorted(guardians, key=lambda r: int(r["recipient_id"])):
            phone = g.get("phone")
            if not phone or phone in phones:
                continue
            phones.add(phone)
            recipients.append(NewRecipient(int(g["recipient_id"]), phone, _lang(g.get("language"), definition)))
        by_letter = not recipients
        if by_letter:  # nobody has a phone: the offer goes by the definition's fallback channel
            without_phone += 1
            recipients = [NewRecipient(int(g["recipient_id"]), "", _lang(g.get("language"), definition))
                          for g in sorted(guardians, key=lambda r: int(r["recipient_id"]))]
        first = guardians[0]
        fields = _field_values(first, definition, reply_by, on)
        if fields is None:
            incomplete += 1
            continue
        if by_letter:
            offer_id = str(uuid4())
            letters = [letter_message(definition, offer_id, r.person_id, r.language, fields, MessageKind.OFFER)
                       for r in recipients]
            offers.append(NewOffer(subject_id=subject_id, language=recipients[0].language,
                                   district=first.get("district_code"), fields=fields, recipients=recipients,
                                   messages=letters, offer_id=offer_id))
            continue
        offer = NewOffer(subject_id=subject_id, language=recipients[0].language, district=first.get("district_code"),
                         fields=fields, recipients=recipients, messages=[])
        messages = []
        for r in recipients:
            if r.phone in asked:
                continue  # deferred: this phone answers another child's offer first
            asked.add(r.phone)
            key = (r.language, tuple(sorted(fields.items())))
            rendered = texts.get(key)
            if rendered is None:  # guardians of one child in one language read the same text: render it once
                lang: Any = r.language
                rendered = texts[key] = render_offer_message(definition, MessageKind.OFFER, lang, fields)
            if max_segments is not None and rendered.segments > max_segments:
                raise ValueError(f"{definition.id}: the offer in {r.language} needs {rendered.segments} SMS parts; "
                                 f"at most {max_segments} are allowed (ENNAKOIVA_SMS_MAX_SEGMENTS)")
            messages.append(NewMessage(message_key(offer.offer_id, "offer", r.person_id, 1), "offer", r.phone,
                                       r.language, rendered.text, rendered.encoding, rendered.segments,
                                       offer.offer_id, r.person_id))
        offers.append(NewOffer(subject_id=subject_id, language=offer.language, district=offer.district, fields=fields,
                               recipients=recipients, messages=messages, offer_id=offer.offer_id))
    return offers, without_phone, incomplete


# Where each template field comes from in a target row. The synthetic city (like the registers it
# imitates here) holds no given names, so ``child_name`` is the child's birth date (d.m.yyyy), which
# guardians recognise without the city inventing a name.
_FIELD_SOURCES: dict[str, Callable[[Mapping[str, Any]], Any]] = {
    "unit_name": lambda r: r.get("unit_name"),
    "station_name": lambda r: r.get("unit_name"),
    "child_name": lambda r: (f"{r['subject_birth_date'].day}.{r['subject_birth_date'].month}."
                             f"{r['subject_birth_date'].year}") if r.get("subject_birth_date") else None,
}


@functools.cache
def _fee_parameters() -> FeeParameters:
    return load_fee_parameters()


def _max_fee(on: date) -> str:
    """The law's maximum monthly fee (youngest child, full time) in force on ``on``, in whole euros."""
    value = _fee_parameters().law.max_fee.at("max_fee", on).value
    return str(int(value))


# Fields that come from the campaign's date rather than from a person's row.
_DATED_SOURCES: dict[str, Callable[[date], str]] = {"max_fee": _max_fee}


def offer_phase_fields(definition: ServiceDefinition) -> list[str]:
    """The fields the offer-phase templates use (a ``proposal`` is filled later, by its own step)."""
    used = {f for kind in definition.templates if kind is not MessageKind.PROPOSAL
            for lang in ("fi", "sv", "en") for f in definition.template(kind, lang).fields}
    return [name for name in definition.fields if name in used]


def _field_values(row: Mapping[str, Any], definition: ServiceDefinition, reply_by: date, on: date,
                  ) -> dict[str, Any] | None:
    """The offer's template fields from its first target row; None when the register lacks one."""
    values: dict[str, Any] = {}
    for name in offer_phase_fields(definition):
        spec = definition.fields[name]
        if spec.type == "date":
            values[name] = reply_by.isoformat()
            continue
        if name in _DATED_SOURCES:
            values[name] = _DATED_SOURCES[name](on)
            continue
        source = _FIELD_SOURCES.get(name)
        value = source(row) if source is not None else None
        if value is None:
            if source is None:
                raise ValueError(f"{definition.id}: template field {name!r} has no source in the target group "
                                 f"(known: {', '.join(sorted([*_FIELD_SOURCES, *_DATED_SOURCES]))})")
            return None
        text = str(value)
        values[name] = text[:spec.max_length] if spec.max_length else text
    return values


def _lang(value: object, definition: ServiceDefinition) -> str:
    return value if value in ("fi", "sv", "en") else definition.default_language  # type: ignore[return-value]


def run_campaign(ops: Operational, messaging: Messaging, city_db: Path, service_id: str, on: date, actor: Actor,
                 ) -> CampaignRun:
    """Decide and log the population read, find the targets, create the offers and queue their messages."""
    definition = load_service(service_id)
    purpose = ops.purposes.get(definition.purpose)
    categories = tuple(purpose.data_categories) if purpose is not None else ("population",)
    decision = ops.gate.decide(actor, definition.purpose, None, categories)
    if not decision.permit:
        raise AccessDeniedError(decision)
    started = time.perf_counter()
    with DuckDBEngine(city_db, read_only=True) as engine:
        targets = find_campaign_targets(engine, definition, on)
    found = time.perf_counter()
    at = messaging.sender.clock()
    offers, without_phone, incomplete = build_offers(targets, definition, on, at,
                                         max_segments=messaging.settings.sms_max_segments)
    result = messaging.offers.create_campaign(definition.id, str(definition.version), on, actor.id, offers, at)
    stored = time.perf_counter()
    subjects = len(set(targets.column("subject_id").to_pylist()))
    return CampaignRun(result.campaign_id, definition.id, on, subjects, result.created, result.existing,
                       result.queued, without_phone, incomplete, found - started, stored - found)


@dataclass(frozen=True)
class TimeoutRun:
    examined: int
    reminded: int
    expired: int
    queued: int
    released: int = 0


LETTER = "letter"


def letter_message(definition: ServiceDefinition, offer_id: str, person_id: int, language: str,
                   fields: Mapping[str, Any], kind: MessageKind, *, key_kind: str | None = None,
                   attempt: int = 1) -> NewMessage:
    """A message by the fallback channel: the same text, addressed to the person's pseudonymous id."""
    if not set(definition.channel.fallback) & {"suomifi_messages", "letter"}:
        raise ValueError(f"{definition.id}: no written fallback channel (fallback: {definition.channel.fallback})")
    lang: Any = language
    rendered = render_offer_message(definition, kind, lang, fields)
    return NewMessage(message_key(offer_id, key_kind or kind.value, person_id, attempt), kind.value,
                      f"{LETTER_ADDRESS_PREFIX}{person_id}", language, rendered.text, rendered.encoding,
                      rendered.segments, offer_id, person_id, channel=LETTER)


def queue_fallbacks(messaging: Messaging) -> int:
    """Offers whose SMS could not be delivered to anyone go by letter (once); returns letters queued."""
    queued = 0
    for offer_id in messaging.offers.offer_ids(states=[OfferState.DELIVERY_FAILED.value]):
        def plan(snap: OfferSnapshot) -> ReplyPlan:
            if snap.state is not OfferState.DELIVERY_FAILED:
                return ReplyPlan("nothing_due")
            definition = messaging.definitions[snap.service_id]
            letters = [letter_message(definition, snap.offer_id, int(r["person_id"]), r["language"], snap.fields,
                                      MessageKind.OFFER, key_kind="fallback") for r in snap.recipients]
            return ReplyPlan("fallback_sent", snap.offer_id, transitions=(Transition.SEND_FALLBACK,),
                             messages=letters, actor="sender")

        queued += len(messaging.outbox.act_on_offer(offer_id, messaging.sender.clock(), plan).queued)
    return queued


def send_fallbacks(messaging: Messaging) -> int:
    """Queue letters for undeliverable offers, drain every queued letter to the letter batch and take
    in its reports; returns how many letters went into the batch."""
    queue_fallbacks(messaging)
    if messaging.letters is None:
        return 0
    report = messaging.letters.drain()
    poll_gateway(messaging.outbox, messaging.letters.gateway, lambda _inbound: True)
    return report.sent


def release_deferred_offers(messaging: Messaging) -> int:
    """Send the offers held back for a phone (twins, siblings) whose earlier offer closed unanswered.

    A phone is asked about one child at a time; when the offer it was asked about expires or is
    withdrawn without an answer, the next child's offer goes out now. Returns how many were queued.
    """
    released = 0
    open_or_drafted = ["drafted", "sent", "delivered", "reminded", "fallback_sent", "delivery_failed", "answered"]
    for offer_id in messaging.offers.offer_ids(states=open_or_drafted):
        snap = messaging.offers.read_snapshot(offer_id)
        for r in snap.recipients:
            if snap.count("offer", r["person_id"]):
                continue
            others = messaging.offers.snapshots_for_phone(r["phone"])
            if any(_waiting_for(o, r["phone"]) for o in others if o.offer_id != offer_id):
                continue
            message = next_deferred_offer(others, r["phone"], None, messaging.definitions)
            if message is None or message.offer_id != offer_id:
                continue
            def plan(s: OfferSnapshot, m: NewMessage = message, o: str = offer_id) -> ReplyPlan:
                return ReplyPlan("released", o, messages=[] if s.count("offer", m.recipient_id) else [m],
                                 actor="clock")

            done = messaging.outbox.act_on_offer(offer_id, messaging.sender.clock(), plan)
            released += len(done.queued)
    return released


def _waiting_for(snap: OfferSnapshot, phone: str) -> bool:
    """Whether a phone has been asked about this offer and it still waits for that phone's answer."""
    r = next(r for r in snap.recipients if r["phone"] == phone)
    return (snap.state.value in ("sent", "delivered", "reminded", "fallback_sent", "delivery_failed", "answered")
            and r["answer"] is None and snap.count("offer", r["person_id"]) > 0)


def run_timeouts(messaging: Messaging, now: datetime, *, reminders: bool, expiry: bool) -> TimeoutRun:
    """Send the reminders that are due and/or expire offers past their deadline, as of ``now``."""
    examined = reminded = expired = queued = 0
    open_states = ["sent", "delivered", "reminded", "fallback_sent", "delivery_failed", "answered"]
    for offer_id in messaging.offers.offer_ids(states=open_states):
        examined += 1
        outcome = messaging.outbox.act_on_offer(offer_id, now, lambda snap: _timeout_plan(
            snap, messaging.definitions, now, reminders=reminders, expiry=expiry))
        reminded += outcome.outcome == "reminded"
        expired += outcome.outcome == "expired"
        queued += len(outcome.queued)
    released = release_deferred_offers(messaging) if expiry else 0
    return TimeoutRun(examined, reminded, expired, queued + released, released)


def _timeout_plan(snap: OfferSnapshot, definitions: Mapping[str, ServiceDefinition], now: datetime, *,
                  reminders: bool, expiry: bool) -> ReplyPlan:
    definition = definitions[snap.service_id]
    views = tuple(RecipientView(str(r["person_id"]), r["language"], r["answer"]) for r in snap.recipients)
    sent_reminders = max((snap.count(MessageKind.REMINDER.value, r["person_id"]) for r in snap.recipients), default=0)
    outcome = decide_timeout(snap.state, views, snap.delivered_at, sent_reminders, now, definition)
    if (outcome.expired and not expiry) or (outcome.reminder_number and not reminders) or not outcome.transitions:
        return ReplyPlan("nothing_due")
    people = {str(r["person_id"]): r for r in snap.recipients}
    messages = []
    for m in outcome.messages:
        person = people[m.recipient_id]
        pid = int(person["person_id"])
        if person["opted_out_at"] is not None or not person["phone"]:
            # no SMS (they sent STOP, or have no phone): the message goes by the fallback channel
            messages.append(letter_message(definition, snap.offer_id, pid, m.lang, snap.fields, m.kind,
                                           attempt=snap.count(m.kind.value, pid) + 1))
            continue
        rendered = render_offer_message(definition, m.kind, m.lang, snap.fields)
        messages.append(NewMessage(message_key(snap.offer_id, m.kind.value, pid, snap.count(m.kind.value, pid) + 1),
                                   m.kind.value, person["phone"], m.lang, rendered.text, rendered.encoding,
                                   rendered.segments, snap.offer_id, pid))
    name = "expired" if Transition.EXPIRE in outcome.transitions else "reminded"
    return ReplyPlan(name, snap.offer_id, transitions=outcome.transitions, messages=messages, actor="clock")
