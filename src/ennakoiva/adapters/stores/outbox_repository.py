"""The outbox, delivery reports and inbound replies: the messaging side of the operational store.

**Sending exactly once.** :meth:`SqlOutbox.claim` moves queued messages to ``sending`` with a lease
(``claimed_until``) and counts the attempt, in one short transaction; the sender hands each to the
gateway with the message's idempotency key as the provider's client reference, then
:meth:`SqlOutbox.mark_sent` records the provider's id. A process killed between the two leaves the
message ``sending``; once its lease runs out it is claimed again and resent — and the gateway, which
deduplicates by client reference, returns the first provider id instead of sending a second SMS.
Nothing is lost (a message only leaves ``sending`` by being recorded as sent or failed) and nothing
is sent twice (the provider sees one reference once).

**Reports and replies at least once, acted on once.** Both are inserted with ``ON CONFLICT DO
NOTHING`` on their provider message id inside the transaction that acts on them, so a retried
webhook changes nothing. A reply's consequences — the recipient's answer, the offer's transitions
and the messages it queues (confirmation, clarification, the offer in another language) — commit in
that same transaction or not at all.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

from sqlalchemy import Connection, Engine, and_, bindparam, func, or_, select, update

from ennakoiva.adapters.stores.database import is_postgresql, reader, write_transaction
from ennakoiva.adapters.stores.offer_repository import (
    INSERT_TRANSITION,
    OFFER,
    OUTBOX,
    RECIPIENT,
    SET_STATE,
    TRANSITION,
    NewMessage,
    OfferSnapshot,
    SqlOfferStore,
    insert_ignoring_duplicates,
    message_row,
    transition,
)
from ennakoiva.adapters.stores.schema import DeliveryReportRow, InboundReplyRow
from ennakoiva.domain.services.offer_state import OfferState, Transition, allowed, apply

__all__ = ["DELIVERY_REPORT", "INBOUND", "ClaimedMessage", "InboundOutcome", "ReplyPlan", "SentMessage",
           "SqlOutbox"]

DELIVERY_REPORT: Any = DeliveryReportRow.__table__
INBOUND: Any = InboundReplyRow.__table__
DELIVERED = "delivered"
FAILED = frozenset({"undelivered", "expired", "rejected", "failed"})


@dataclass(frozen=True)
class ClaimedMessage:
    message_id: str
    idempotency_key: str
    offer_id: str | None
    kind: str
    phone: str
    body: str
    encoding: str
    segments: int
    attempts: int


@dataclass(frozen=True)
class SentMessage:
    message_id: str
    provider: str
    provider_message_id: str
    at: datetime


@dataclass(frozen=True)
class ReplyPlan:
    """What one inbound reply does, decided by the platform from the offers' snapshots."""

    outcome: str
    offer_id: str | None = None
    choice: str | None = None
    answers: Sequence[tuple[int, str]] = ()
    transitions: Sequence[Transition] = ()
    messages: Sequence[NewMessage] = ()
    actor: str = "system"
    language: tuple[int, str] | None = None  # (recipient, language) the respondent asked for
    opt_out: int | None = None  # the recipient who sent STOP: no more SMS to them


@dataclass(frozen=True)
class InboundOutcome:
    duplicate: bool
    outcome: str
    offer_id: str | None = None
    choice: str | None = None
    queued: tuple[str, ...] = field(default_factory=tuple)
    claimed: tuple[ClaimedMessage, ...] = field(default_factory=tuple)


_KNOWN = select(INBOUND.c.inbound_id).where((INBOUND.c.provider == bindparam("p"))
                                           & (INBOUND.c.provider_message_id == bindparam("pid")))
_SET_ANSWER = (update(RECIPIENT).where((RECIPIENT.c.offer_id == bindparam("o_id"))
                                       & (RECIPIENT.c.person_id == bindparam("p_id")))
               .values(answer=bindparam("a"), answered_at=bindparam("at")))


_UNSENT = select(OUTBOX.c.message_id, OUTBOX.c.kind, OUTBOX.c.offer_id).where(
    OUTBOX.c.message_id.in_(bindparam("ids", expanding=True)) & (OUTBOX.c.status != "sent"))
_SET_SENT = update(OUTBOX).where(OUTBOX.c.message_id == bindparam("m_id")).values(
    status="sent", sent_at=bindparam("m_at"), provider=bindparam("m_provider"), provider_message_id=bindparam("m_pid"),
    claimed_until=None, error=None)
_STATES = select(OFFER.c.offer_id, OFFER.c.state).where(OFFER.c.offer_id.in_(bindparam("ids", expanding=True)))
_MAX_SEQS = (select(TRANSITION.c.offer_id, func.max(TRANSITION.c.seq))
             .where(TRANSITION.c.offer_id.in_(bindparam("ids", expanding=True))).group_by(TRANSITION.c.offer_id))


class _DuplicateError(Exception):
    """Raised inside a transaction to roll it back when a concurrent twin won the insert."""


class SqlOutbox:
    """The outbox and the inbound side over one engine."""

    def __init__(self, engine: Engine, offers: SqlOfferStore | None = None) -> None:
        self.engine = engine
        self.offers = offers or SqlOfferStore(engine)
        self._pg = is_postgresql(engine)
        self._reader = reader(engine)

    # -- sending -----------------------------------------------------------------------------------

    def enqueue(self, messages: Sequence[NewMessage], at: datetime) -> int:
        """Queue messages; a key queued before is skipped. Returns how many are new."""
        with write_transaction(self.engine) as conn:
            return insert_ignoring_duplicates(conn, OUTBOX, [message_row(m, at) for m in messages],
                                              ["idempotency_key"])

    def claim(self, limit: int, lease: timedelta, at: datetime, *, ids: Sequence[str] | None = None,
              channel: str = "sms") -> list[ClaimedMessage]:
        """Take up to ``limit`` messages of ``channel`` to send: queued ones, and ``sending`` ones whose
        lease ran out."""
        due = or_(OUTBOX.c.status == "queued", and_(OUTBOX.c.status == "sending", OUTBOX.c.claimed_until <= at))
        due = and_(due, OUTBOX.c.channel == channel)
        query = select(OUTBOX.c.message_id, OUTBOX.c.idempotency_key, OUTBOX.c.offer_id, OUTBOX.c.kind,
                       OUTBOX.c.phone, OUTBOX.c.body, OUTBOX.c.encoding, OUTBOX.c.segments,
                       OUTBOX.c.attempts).where(due)
        if ids is not None:
            query = query.where(OUTBOX.c.message_id.in_(list(ids)))
        query = query.order_by(OUTBOX.c.created_at, OUTBOX.c.message_id).limit(limit)
        if self._pg:
            query = query.with_for_update(skip_locked=True)
        with write_transaction(self.engine) as conn:
            rows = conn.execute(query).all()
            if rows:
                conn.execute(update(OUTBOX).where(OUTBOX.c.message_id.in_([r.message_id for r in rows]))
                             .values(status="sending", claimed_until=at + lease, attempts=OUTBOX.c.attempts + 1))
        return [ClaimedMessage(r.message_id, r.idempotency_key, r.offer_id, r.kind, r.phone, r.body, r.encoding,
                               r.segments, r.attempts + 1) for r in rows]

    def mark_sent(self, sent: Sequence[SentMessage], on_sent: Mapping[str, Transition] | None = None) -> int:
        """Record what the gateway accepted; apply ``on_sent[kind]`` to the offer where its state allows.

        One transaction and a handful of statements per batch, whatever its size: a message already
        recorded as sent is left alone (a resend after a crash records nothing new).
        """
        if not sent:
            return 0
        on_sent = on_sent or {}
        by_id = {s.message_id: s for s in sent}
        with write_transaction(self.engine) as conn:
            rows = conn.execute(_UNSENT, {"ids": list(by_id)}).all()
            if not rows:
                return 0
            conn.execute(_SET_SENT,
                [{"m_id": r.message_id, "m_at": by_id[r.message_id].at, "m_provider": by_id[r.message_id].provider,
                  "m_pid": by_id[r.message_id].provider_message_id} for r in rows])
            moves: dict[str, tuple[Transition, SentMessage]] = {}
            for r in rows:
                name = on_sent.get(r.kind)
                if name is not None and r.offer_id is not None:
                    moves.setdefault(r.offer_id, (name, by_id[r.message_id]))
            if moves:
                self._apply_many(conn, moves, actor="sender")
        return len(rows)

    def _apply_many(self, conn: Connection, moves: Mapping[str, tuple[Transition, SentMessage]], *,
                    actor: str) -> None:
        """Apply one transition to many offers where each one's state allows it, in a few statements."""
        ids = list(moves)
        states = dict(conn.execute(_STATES, {"ids": ids}).all())
        seqs = dict(conn.execute(_MAX_SEQS, {"ids": ids}).all())
        new_rows, updates = [], []
        for offer_id, (name, s) in moves.items():
            state = OfferState(states[offer_id])
            if not allowed(state, name):
                continue
            target = apply(state, name)
            new_rows.append({"offer_id": offer_id, "seq": seqs.get(offer_id, 0) + 1, "name": name.value,
                             "from_state": state.value, "to_state": target.value, "at": s.at, "actor": actor,
                             "cause": f"message {s.message_id}"})
            updates.append({"o_id": offer_id, "o_state": target.value, "o_at": s.at})
        if new_rows:
            conn.execute(INSERT_TRANSITION, new_rows)
            conn.execute(SET_STATE, updates)

    def mark_failed(self, message_id: str, error: str, *, permanent: bool) -> None:
        """A refused send: permanent → ``failed``; otherwise back to the queue for a later attempt."""
        with write_transaction(self.engine) as conn:
            conn.execute(update(OUTBOX).where((OUTBOX.c.message_id == message_id) & (OUTBOX.c.status == "sending"))
                         .values(status="failed" if permanent else "queued", claimed_until=None, error=error[:256]))

    def _maybe(self, conn: Connection, offer_id: str, name: Transition, at: datetime, *, actor: str,
               cause: str) -> bool:
        state = OfferState(conn.execute(select(OFFER.c.state).where(OFFER.c.offer_id == offer_id)).scalar_one())
        if not allowed(state, name):
            return False  # e.g. a late report after a reply: kept for audit, changes no state
        transition(conn, offer_id, state, name, at, actor=actor, cause=cause)
        return True

    # -- delivery reports ---------------------------------------------------------------------------

    def record_delivery_report(self, provider: str, provider_message_id: str, status: str, reported_at: datetime,
                               at: datetime, *, client_ref: str | None = None,
                               on_delivery: Mapping[str, Mapping[str, Transition]] | None = None) -> str:
        """Store a report once and apply it: ``duplicate``, ``unmatched`` or ``applied``.

        ``on_delivery[kind][status]`` names the offer transition a report on a message of that kind
        triggers (e.g. ``{"offer": {"delivered": DELIVER}}``); a stale report triggers nothing.
        """
        with write_transaction(self.engine) as conn:
            match = select(OUTBOX.c.message_id, OUTBOX.c.kind, OUTBOX.c.offer_id, OUTBOX.c.delivery_status)
            message = conn.execute(match.where((OUTBOX.c.provider == provider)
                                               & (OUTBOX.c.provider_message_id == provider_message_id))).first()
            if message is None and client_ref is not None:
                # The report can overtake the sender's own record (a crash between send and mark).
                message = conn.execute(match.where(OUTBOX.c.idempotency_key == client_ref)).first()
            row = {"report_id": str(uuid4()), "provider": provider, "provider_message_id": provider_message_id,
                   "status": status, "reported_at": reported_at, "received_at": at,
                   "message_id": message.message_id if message else None}
            if not insert_ignoring_duplicates(conn, DELIVERY_REPORT, [row],
                                              ["provider", "provider_message_id", "status"]):
                return "duplicate"
            if message is None:
                return "unmatched"
            if message.delivery_status != DELIVERED:  # delivered is final; a later "failed" is stale
                conn.execute(update(OUTBOX).where(OUTBOX.c.message_id == message.message_id)
                             .values(delivery_status=status,
                                     delivered_at=reported_at if status == DELIVERED else None))
            if message.offer_id is not None:
                if status == DELIVERED:
                    conn.execute(update(OFFER).where((OFFER.c.offer_id == message.offer_id)
                                                     & OFFER.c.delivered_at.is_(None))
                                 .values(delivered_at=reported_at))
                name = (on_delivery or {}).get(message.kind, {}).get(status)
                if name is Transition.DELIVERY_FAILED and self._some_not_failed(conn, message.offer_id, message.kind):
                    name = None  # another guardian's copy may still arrive: the offer is not undeliverable
                if name is not None:
                    self._maybe(conn, message.offer_id, name, at, actor="gateway",
                                cause=f"report {provider}:{provider_message_id}")
            return "applied"

    def _some_not_failed(self, conn: Connection, offer_id: str, kind: str) -> bool:
        statuses = conn.execute(select(OUTBOX.c.delivery_status).where((OUTBOX.c.offer_id == offer_id)
                                                                       & (OUTBOX.c.kind == kind))).scalars()
        return any(s not in FAILED for s in statuses)

    # -- inbound replies ----------------------------------------------------------------------------

    def handle_inbound(self, provider: str, provider_message_id: str, from_phone: str, body: str,
                       sent_at: datetime, at: datetime,
                       plan: Callable[[list[OfferSnapshot]], ReplyPlan],
                       claim_for: timedelta | None = None) -> InboundOutcome:
        """Store one inbound message and everything it causes, in one transaction; a duplicate does nothing.

        With ``claim_for`` the messages it queues are claimed for the caller at once (``sending``,
        leased for that long) and returned in ``claimed``, so the caller can send them without another
        transaction; if it dies first, the lease runs out and any sender resends them.

        ``plan`` sees snapshots of the offers the sender's phone is a recipient of (newest first,
        row-locked on PostgreSQL) and returns what to do; it must be pure.
        """
        try:
            with write_transaction(self.engine) as conn:
                if conn.execute(_KNOWN, {"p": provider, "pid": provider_message_id}).first() is not None:
                    raise _DuplicateError
                offer_ids = self.offers.offers_for_phone(conn, from_phone)
                snapshots = [self.offers.snapshot(conn, oid, lock=True) for oid in offer_ids]
                decided = plan(snapshots)
                row = {"inbound_id": str(uuid4()), "provider": provider, "provider_message_id": provider_message_id,
                       "from_phone": from_phone, "body": body, "sent_at": sent_at, "received_at": at,
                       "offer_id": decided.offer_id, "choice": decided.choice, "outcome": decided.outcome}
                if not insert_ignoring_duplicates(conn, INBOUND, [row], ["provider", "provider_message_id"]):
                    raise _DuplicateError  # a concurrent twin committed first: undo everything here
                if decided.offer_id is not None:
                    for person_id, answer in decided.answers:
                        conn.execute(_SET_ANSWER, {"o_id": decided.offer_id, "p_id": person_id, "a": answer,
                                                   "at": sent_at})
                    if decided.opt_out is not None:
                        conn.execute(update(RECIPIENT).where((RECIPIENT.c.offer_id == decided.offer_id)
                                                             & (RECIPIENT.c.person_id == decided.opt_out))
                                     .values(opted_out_at=at))
                    if decided.language is not None:
                        conn.execute(update(RECIPIENT).where((RECIPIENT.c.offer_id == decided.offer_id)
                                                             & (RECIPIENT.c.person_id == decided.language[0]))
                                     .values(language=decided.language[1]))
                    state = next(s.state for s in snapshots if s.offer_id == decided.offer_id)
                    for name in decided.transitions:
                        state = transition(conn, decided.offer_id, state, name, at, actor=decided.actor,
                                           cause=f"reply {provider}:{provider_message_id}")
                rows = [message_row(m, at) for m in decided.messages]
                if claim_for is not None:
                    for r in rows:
                        if r["channel"] == "sms":  # letters wait for their own sender
                            r.update(status="sending", claimed_until=at + claim_for, attempts=1)
                inserted = set(insert_ignoring_duplicates(conn, OUTBOX, rows, ["idempotency_key"], keys=True))
                fresh = [r for r in rows if r["idempotency_key"] in inserted]
                queued = tuple(r["message_id"] for r in fresh)
                claimed = tuple(ClaimedMessage(r["message_id"], r["idempotency_key"], r["offer_id"], r["kind"],
                                               r["phone"], r["body"], r["encoding"], r["segments"], 1)
                                for r in fresh if r["channel"] == "sms") if claim_for is not None else ()
        except _DuplicateError:
            return InboundOutcome(duplicate=True, outcome="duplicate")
        return InboundOutcome(False, decided.outcome, decided.offer_id, decided.choice, queued, claimed)

    def act_on_offer(self, offer_id: str, at: datetime, plan: Callable[[OfferSnapshot], ReplyPlan]) -> InboundOutcome:
        """Apply what ``plan`` decides for one offer (a reminder, an expiry) in one transaction."""
        with write_transaction(self.engine) as conn:
            snap = self.offers.snapshot(conn, offer_id, lock=True)
            decided = plan(snap)
            state = snap.state
            for name in decided.transitions:
                state = transition(conn, offer_id, state, name, at, actor=decided.actor, cause=decided.outcome)
            rows = [message_row(m, at) for m in decided.messages]
            inserted = set(insert_ignoring_duplicates(conn, OUTBOX, rows, ["idempotency_key"], keys=True))
            queued = tuple(r["message_id"] for r in rows if r["idempotency_key"] in inserted)
        return InboundOutcome(False, decided.outcome, offer_id, None, queued)

    # -- reads -----------------------------------------------------------------------------------

    def counts(self, channel: str | None = None) -> dict[str, int]:
        """Messages per status (for ``campaign status``), of one channel or all."""
        query = select(OUTBOX.c.status, func.count()).group_by(OUTBOX.c.status)
        if channel is not None:
            query = query.where(OUTBOX.c.channel == channel)
        with self._reader.connect() as conn:
            return {s: int(n) for s, n in conn.execute(query)}

    def messages(self, offer_id: str | None = None) -> list[dict[str, Any]]:
        query = select(OUTBOX)
        if offer_id is not None:
            query = query.where(OUTBOX.c.offer_id == offer_id)
        with self._reader.connect() as conn:
            return [dict(r) for r in conn.execute(query.order_by(OUTBOX.c.created_at, OUTBOX.c.message_id))
                    .mappings()]

    def inbound(self) -> list[dict[str, Any]]:
        with self._reader.connect() as conn:
            return [dict(r) for r in conn.execute(select(INBOUND).order_by(INBOUND.c.received_at)).mappings()]

    def delivery_reports(self) -> list[dict[str, Any]]:
        with self._reader.connect() as conn:
            return [dict(r) for r in conn.execute(select(DELIVERY_REPORT)).mappings()]
