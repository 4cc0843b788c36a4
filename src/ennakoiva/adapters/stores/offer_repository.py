"""Campaigns, offers, their recipients and append-only transitions in the operational store.

Creating a campaign is one transaction: the campaign row, every offer with its recipients, each
offer's first transition and its queued messages commit together or not at all. A re-run for the
same service and date finds the campaign by its key and adds only the subjects it does not have, so
running a campaign twice never creates a second offer nor queues a message twice (the outbox's
idempotency key backs that up in the database itself).

Every change of an offer's state goes through :func:`transition` in the caller's transaction: the
domain's :func:`~ennakoiva.domain.services.offer_state.apply` guards it, a row is appended to
``offer_transition`` and the offer's ``state`` and ``version`` follow.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal, cast, overload
from uuid import uuid4

from sqlalchemy import Connection, Engine, Table, bindparam, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ennakoiva.adapters.stores.database import is_postgresql, reader, write_transaction
from ennakoiva.adapters.stores.schema import (
    CampaignRow,
    OfferRecipientRow,
    OfferRow,
    OfferTransitionRow,
    OutboxMessageRow,
)
from ennakoiva.domain.services.offer_state import OfferState, Transition, apply

__all__ = [
    "CAMPAIGN",
    "INSERT_TRANSITION",
    "OFFER",
    "OUTBOX",
    "RECIPIENT",
    "SET_STATE",
    "TRANSITION",
    "CampaignResult",
    "NewMessage",
    "NewOffer",
    "NewRecipient",
    "OfferSnapshot",
    "SqlOfferStore",
    "insert_ignoring_duplicates",
    "message_row",
    "transition",
]

CAMPAIGN = cast(Table, CampaignRow.__table__)
OFFER = cast(Table, OfferRow.__table__)
RECIPIENT = cast(Table, OfferRecipientRow.__table__)
TRANSITION = cast(Table, OfferTransitionRow.__table__)
OUTBOX = cast(Table, OutboxMessageRow.__table__)
_CHUNK = 2_000  # rows per executemany: bounded memory, few round trips


@dataclass(frozen=True)
class NewMessage:
    """A message to queue; ``idempotency_key`` is offer|kind|recipient|attempt (or another stable key)."""

    idempotency_key: str
    kind: str
    phone: str
    language: str
    body: str
    encoding: str
    segments: int
    offer_id: str | None = None
    recipient_id: int | None = None
    channel: str = "sms"   # or "letter": the fallback batch (then ``phone`` holds the letter address)


@dataclass(frozen=True)
class NewRecipient:
    person_id: int
    phone: str
    language: str


@dataclass(frozen=True)
class NewOffer:
    subject_id: int
    language: str
    district: str | None
    fields: dict[str, Any]
    recipients: Sequence[NewRecipient]
    messages: Sequence[NewMessage]
    deadline_at: datetime | None = None
    offer_id: str = field(default_factory=lambda: str(uuid4()))


@dataclass(frozen=True)
class CampaignResult:
    campaign_id: str
    created: int
    existing: int
    queued: int


@dataclass(frozen=True)
class OfferSnapshot:
    """An offer as it stands inside a transaction, with its recipients (answers included)."""

    offer_id: str
    campaign_id: str
    service_id: str
    subject_id: int
    state: OfferState
    language: str
    district: str | None
    fields: dict[str, Any]
    deadline_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime
    recipients: tuple[dict[str, Any], ...]
    sent_counts: dict[tuple[str, int | None], int]

    def count(self, kind: str, recipient_id: int | None) -> int:
        """How many messages of ``kind`` this offer has queued for one recipient (any status)."""
        return self.sent_counts.get((kind, recipient_id), 0)


def message_row(message: NewMessage, at: datetime) -> dict[str, Any]:
    return {"message_id": str(uuid4()), "idempotency_key": message.idempotency_key, "offer_id": message.offer_id,
            "kind": message.kind, "recipient_id": message.recipient_id, "phone": message.phone,
            "language": message.language, "body": message.body, "encoding": message.encoding,
            "segments": message.segments, "status": "queued", "created_at": at, "claimed_until": None,
            "attempts": 0, "sent_at": None, "provider": None, "provider_message_id": None,
            "delivery_status": None, "delivered_at": None, "error": None, "channel": message.channel}


@overload
def insert_ignoring_duplicates(conn: Connection, table: Table, rows: Sequence[dict[str, Any]],
                               unique: Sequence[str]) -> int: ...
@overload
def insert_ignoring_duplicates(conn: Connection, table: Table, rows: Sequence[dict[str, Any]],
                               unique: Sequence[str], *, keys: Literal[True]) -> list[Any]: ...
def insert_ignoring_duplicates(conn: Connection, table: Table, rows: Sequence[dict[str, Any]],
                               unique: Sequence[str], *, keys: bool = False) -> int | list[Any]:
    """Insert rows, skipping those that collide on ``unique``: how many were inserted (or, with
    ``keys``, the first unique column of each inserted row).

    ``ON CONFLICT DO NOTHING`` on both engines: unlike catching IntegrityError it does not abort a
    PostgreSQL transaction, so dedup can happen inside the transaction that acts on the row.
    """
    if not rows:
        return [] if keys else 0
    stmt = _insert_ignoring(is_postgresql(conn), table, tuple(unique))
    # RETURNING tells what was really inserted (the drivers' row counts for ON CONFLICT are not
    # reliable); SQLAlchemy batches the rows into multi-row VALUES ("insertmanyvalues") and the
    # statement, built once, stays compiled in its cache.
    inserted: list[Any] = list(conn.execute(stmt, list(rows)).scalars())
    return inserted if keys else len(inserted)


@functools.cache
def _insert_ignoring(pg: bool, table: Table, unique: tuple[str, ...]) -> Any:
    dialect = postgresql if pg else sqlite
    return dialect.insert(table).on_conflict_do_nothing(index_elements=list(unique)).returning(table.c[unique[0]])


# Statements of the hot paths, built once: constructing a statement costs more than running it.
_MAX_SEQ = select(func.coalesce(func.max(TRANSITION.c.seq), 0)).where(TRANSITION.c.offer_id == bindparam("offer_id"))
INSERT_TRANSITION = insert(TRANSITION)
SET_STATE = (update(OFFER).where(OFFER.c.offer_id == bindparam("o_id"))
              .values(state=bindparam("o_state"), updated_at=bindparam("o_at"), version=OFFER.c.version + 1))
_OFFER = select(OFFER).where(OFFER.c.offer_id == bindparam("offer_id"))
_OFFER_LOCKED = _OFFER.with_for_update()
_RECIPIENTS = select(RECIPIENT).where(RECIPIENT.c.offer_id == bindparam("offer_id")).order_by(RECIPIENT.c.person_id)
_COUNTS = (select(OUTBOX.c.kind, OUTBOX.c.recipient_id, func.count()).where(OUTBOX.c.offer_id == bindparam("offer_id"))
           .group_by(OUTBOX.c.kind, OUTBOX.c.recipient_id))
_FOR_PHONE = (select(OFFER.c.offer_id).join(RECIPIENT, RECIPIENT.c.offer_id == OFFER.c.offer_id)
              .where(RECIPIENT.c.phone == bindparam("phone")).order_by(OFFER.c.created_at.desc(), OFFER.c.offer_id))


def transition(conn: Connection, offer_id: str, current: OfferState, name: Transition, at: datetime, *,
               actor: str, cause: str | None = None) -> OfferState:
    """Apply one named transition in the caller's transaction: guarded, recorded, mirrored."""
    target = apply(current, name)
    seq = conn.execute(_MAX_SEQ, {"offer_id": offer_id}).scalar_one() + 1
    conn.execute(INSERT_TRANSITION, {"offer_id": offer_id, "seq": seq, "name": name.value,
                                      "from_state": current.value, "to_state": target.value, "at": at,
                                      "actor": actor, "cause": cause})
    conn.execute(SET_STATE, {"o_id": offer_id, "o_state": target.value, "o_at": at})
    return target


class SqlOfferStore:
    """Campaigns and offers over one SQLAlchemy engine (SQLite or PostgreSQL)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._pg = is_postgresql(engine)
        self._reader = reader(engine)

    def create_campaign(self, service_id: str, service_version: str, on: date, actor_id: str,
                        offers: Iterable[NewOffer], at: datetime) -> CampaignResult:
        """Create (or extend) the campaign of ``service_id`` on ``on``, in one transaction."""
        key = f"{service_id}|{on.isoformat()}"
        with write_transaction(self.engine) as conn:
            found = conn.execute(select(CAMPAIGN.c.campaign_id).where(CAMPAIGN.c.campaign_key == key)).scalar()
            campaign_id = found or str(uuid4())
            if found is None:
                conn.execute(insert(CAMPAIGN), {"campaign_id": campaign_id, "campaign_key": key,
                                                "service_id": service_id, "service_version": service_version,
                                                "run_on": on.isoformat(), "actor_id": actor_id, "created_at": at})
            have = set(conn.execute(select(OFFER.c.subject_id).where(OFFER.c.campaign_id == campaign_id)).scalars())
            fresh = [o for o in offers if o.subject_id not in have]
            offer_rows, recipient_rows, transition_rows, message_rows = [], [], [], []
            for o in fresh:
                offer_rows.append({"offer_id": o.offer_id, "campaign_id": campaign_id, "service_id": service_id,
                                   "subject_id": o.subject_id, "state": OfferState.DRAFTED.value,
                                   "language": o.language, "district": o.district, "fields": o.fields,
                                   "created_at": at, "updated_at": at, "deadline_at": o.deadline_at,
                                   "delivered_at": None, "version": 1})
                recipient_rows += [{"offer_id": o.offer_id, "person_id": r.person_id, "phone": r.phone,
                                    "language": r.language, "answer": None, "answered_at": None,
                                    "opted_out_at": None}
                                   for r in o.recipients]
                transition_rows.append({"offer_id": o.offer_id, "seq": 1, "name": "draft", "from_state": None,
                                        "to_state": OfferState.DRAFTED.value, "at": at, "actor": actor_id,
                                        "cause": f"campaign {campaign_id}"})
                message_rows += [message_row(m, at) for m in o.messages]
            # The messages of new offers carry the new offers' ids in their keys, so they cannot collide
            # with anything queued before: a plain insert (the UNIQUE key still guards it).
            for table, rows in ((OFFER, offer_rows), (RECIPIENT, recipient_rows), (TRANSITION, transition_rows),
                                (OUTBOX, message_rows)):
                for start in range(0, len(rows), _CHUNK):
                    conn.execute(insert(table), rows[start:start + _CHUNK])
            queued = len(message_rows)
        return CampaignResult(campaign_id, created=len(fresh), existing=len(have), queued=queued)

    def snapshot(self, conn: Connection, offer_id: str, *, lock: bool = False) -> OfferSnapshot:
        """The offer and its recipients inside ``conn``'s transaction (row-locked on PostgreSQL)."""
        args = {"offer_id": offer_id}
        row = conn.execute(_OFFER_LOCKED if lock and self._pg else _OFFER, args).mappings().one()
        recipients = tuple(dict(r) for r in conn.execute(_RECIPIENTS, args).mappings())
        counts: dict[tuple[str, int | None], int] = {
            (kind, who): int(n) for kind, who, n in conn.execute(_COUNTS, args)}
        return OfferSnapshot(offer_id=row["offer_id"], campaign_id=row["campaign_id"], service_id=row["service_id"],
                             subject_id=row["subject_id"], state=OfferState(row["state"]), language=row["language"],
                             district=row["district"], fields=dict(row["fields"]), deadline_at=row["deadline_at"],
                             delivered_at=row["delivered_at"], created_at=row["created_at"], recipients=recipients,
                             sent_counts=counts)

    def offers_for_phone(self, conn: Connection, phone: str) -> list[str]:
        """Offers a phone is a recipient of, newest first."""
        return list(conn.execute(_FOR_PHONE, {"phone": phone}).scalars())

    def snapshots_for_phone(self, phone: str) -> list[OfferSnapshot]:
        """Snapshots of every offer a phone is a recipient of, newest first (a read, no lock)."""
        with self._reader.connect() as conn:
            return [self.snapshot(conn, oid) for oid in self.offers_for_phone(conn, phone)]

    def offer_ids(self, campaign_id: str | None = None, states: Sequence[str] | None = None) -> list[str]:
        query = select(OFFER.c.offer_id)
        if campaign_id is not None:
            query = query.where(OFFER.c.campaign_id == campaign_id)
        if states is not None:
            query = query.where(OFFER.c.state.in_(list(states)))
        with self._reader.connect() as conn:
            return list(conn.execute(query.order_by(OFFER.c.offer_id)).scalars())

    def state_counts(self, campaign_id: str) -> dict[str, int]:
        """Offers per state in one campaign."""
        with self._reader.connect() as conn:
            return {state: int(n) for state, n in conn.execute(
                select(OFFER.c.state, func.count()).where(OFFER.c.campaign_id == campaign_id)
                .group_by(OFFER.c.state))}

    def campaigns(self) -> list[dict[str, Any]]:
        with self._reader.connect() as conn:
            return [dict(r) for r in conn.execute(select(CAMPAIGN).order_by(CAMPAIGN.c.created_at)).mappings()]

    def campaign_id(self, service_id: str, on: date | None = None) -> str | None:
        """The campaign of a service on a date, or its latest one."""
        query = select(CAMPAIGN.c.campaign_id).where(CAMPAIGN.c.service_id == service_id)
        if on is not None:
            query = query.where(CAMPAIGN.c.run_on == on.isoformat())
        with self._reader.connect() as conn:
            return conn.execute(query.order_by(CAMPAIGN.c.created_at.desc()).limit(1)).scalar()

    def transitions(self, offer_id: str) -> list[dict[str, Any]]:
        with self._reader.connect() as conn:
            return [dict(r) for r in conn.execute(select(TRANSITION).where(TRANSITION.c.offer_id == offer_id)
                                                  .order_by(TRANSITION.c.seq)).mappings()]

    def campaign_facts(self, campaign_id: str) -> dict[str, list[dict[str, Any]]]:
        """The raw rows campaign metrics are computed from: offers, decisive transitions, replies, messages."""
        from ennakoiva.adapters.stores.schema import InboundReplyRow  # noqa: PLC0415 - avoids a cycle of names

        inbound = cast(Table, InboundReplyRow.__table__)
        mine = select(OFFER.c.offer_id).where(OFFER.c.campaign_id == campaign_id)
        with self._reader.connect() as conn:
            offers = [dict(r) for r in conn.execute(
                select(OFFER.c.offer_id, OFFER.c.language, OFFER.c.district, OFFER.c.state, OFFER.c.delivered_at)
                .where(OFFER.c.campaign_id == campaign_id)).mappings()]
            decisive = [dict(r) for r in conn.execute(
                select(TRANSITION.c.offer_id, TRANSITION.c.seq, TRANSITION.c.name).where(
                    TRANSITION.c.offer_id.in_(mine)
                    & TRANSITION.c.name.in_(["accept", "decline", "caseworker_accept", "caseworker_decline",
                                             "hold"])).order_by(TRANSITION.c.offer_id, TRANSITION.c.seq)).mappings()]
            replies = [dict(r) for r in conn.execute(
                select(inbound.c.offer_id, inbound.c.outcome, inbound.c.sent_at, inbound.c.received_at)
                .where(inbound.c.offer_id.in_(mine))).mappings()]
            messages = [dict(r) for r in conn.execute(
                select(OUTBOX.c.offer_id, OUTBOX.c.kind, OUTBOX.c.status, OUTBOX.c.created_at, OUTBOX.c.sent_at,
                       OUTBOX.c.delivery_status, OUTBOX.c.channel).where(OUTBOX.c.offer_id.in_(mine))).mappings()]
        return {"offers": offers, "decisive": decisive, "replies": replies, "messages": messages}

    def read_snapshot(self, offer_id: str) -> OfferSnapshot:
        with self._reader.connect() as conn:
            return self.snapshot(conn, offer_id)
