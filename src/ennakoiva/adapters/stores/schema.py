"""The operational store's tables (SQLAlchemy 2 typed declarative), the same on SQLite and PostgreSQL.

This module describes the *current* schema; the Alembic revisions in ``migrations/versions/`` are the
frozen history that creates it (a test migrates an empty database and compares it with this
metadata). Conventions:

- Timestamps are timezone-aware and stored in UTC (:class:`UtcDateTime`: ``timestamptz`` on
  PostgreSQL, ISO text on SQLite, always handed back aware in UTC; naive values are refused).
- UUIDs are text; subjects and parties are the city's internal integer ids (never HETU).
- Lists are JSON arrays (``jsonb`` on PostgreSQL).
- ``consent_record.active_key`` is ``"<subject_id>|<purpose_id>"`` while a record is not final and
  NULL once it is withdrawn, refused, expired or invalidated; being UNIQUE it makes two active
  consents for one subject and purpose impossible in the database itself.
- ``consent_event``, ``audit_entry`` and ``audit_checkpoint`` are append-only: database triggers
  (created by the migration) refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql.elements import conv

__all__ = [
    "APPEND_ONLY_TABLES",
    "CONSENT_STATES",
    "OFFER_APPEND_ONLY_TABLES",
    "OUTBOX_STATES",
    "AuditCheckpointRow",
    "AuditEntryRow",
    "Base",
    "CampaignRow",
    "ConsentEventRow",
    "ConsentPersonRow",
    "ConsentRecordRow",
    "DeliveryReportRow",
    "InboundReplyRow",
    "JsonList",
    "OfferRecipientRow",
    "OfferRow",
    "OfferTransitionRow",
    "OutboxMessageRow",
    "UtcDateTime",
    "metadata",
]

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)

# The states of ISO/IEC TS 27560 as summarised in the reference (§7.2).
CONSENT_STATES = ("requested", "given", "renewed", "refused", "withdrawn", "expired", "invalidated")
APPEND_ONLY_TABLES = ("consent_event", "audit_entry", "audit_checkpoint")

# JSON arrays; jsonb on PostgreSQL (binary, comparable), JSON text on SQLite.
JsonList = JSON().with_variant(JSONB(), "postgresql")
# A 64-bit key that is the rowid on SQLite ("INTEGER PRIMARY KEY") and BIGINT on PostgreSQL.
SeqKey = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """An aware timestamp stored in UTC; naive datetimes are a programming error and refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: the store keeps aware UTC timestamps only")
        utc = value.astimezone(UTC)
        # SQLite has no time-zone type: store the UTC wall time, which process_result_value re-tags.
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    @property
    def python_type(self) -> type[datetime]:
        return datetime


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = metadata
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UtcDateTime(), list[int]: JsonList, list[str]: JsonList}


class ConsentRecordRow(Base):
    """The mostly static part of a consent (27560 record); its state lives in its events."""

    __tablename__ = "consent_record"

    record_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    schema_version: Mapped[str] = mapped_column(String(64))
    subject_id: Mapped[int] = mapped_column(BigInteger)
    covered_subjects: Mapped[list[int]]
    purpose_id: Mapped[str] = mapped_column(String(128))
    purpose_version: Mapped[int] = mapped_column(Integer)
    notice_version: Mapped[int] = mapped_column(Integer)
    notice_sha256: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(2))
    controller_id: Mapped[str] = mapped_column(String(128))
    legal_basis: Mapped[str] = mapped_column(String(64))
    data_categories: Mapped[list[str]]
    required_parties: Mapped[list[int]]
    withdrawal_method: Mapped[str] = mapped_column(String(512))
    jurisdiction: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime]
    valid_until: Mapped[datetime]
    active_key: Mapped[str | None] = mapped_column(String(160), unique=True)

    __table_args__ = (
        CheckConstraint(_in("language", ("fi", "sv", "en")), name="language"),
        CheckConstraint("length(notice_sha256) = 64", name="notice_sha256"),
        CheckConstraint("purpose_version >= 1 AND notice_version >= 1", name="versions"),
        Index(None, "subject_id", "purpose_id"),
    )


class ConsentEventRow(Base):
    """One state change of a consent record, hash-chained within the record; append-only."""

    __tablename__ = "consent_event"

    record_id: Mapped[str] = mapped_column(String(36), ForeignKey("consent_record.record_id"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    state: Mapped[str] = mapped_column(String(16))
    party_id: Mapped[int] = mapped_column(BigInteger)
    party_role: Mapped[str] = mapped_column(String(32))
    auth_method: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime]
    valid_until: Mapped[datetime | None]
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        CheckConstraint("seq >= 1", name="seq"),
        CheckConstraint(_in("state", CONSENT_STATES), name="state"),
    )


class ConsentPersonRow(Base):
    """Who a consent concerns (subject, required party, covered person): derived, for look-ups."""

    __tablename__ = "consent_person"

    record_id: Mapped[str] = mapped_column(String(36), ForeignKey("consent_record.record_id"), primary_key=True)
    person_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False, index=True)
    relation: Mapped[str] = mapped_column(String(16), primary_key=True)

    __table_args__ = (CheckConstraint(_in("relation", ("subject", "party", "covered")), name="relation"),)


class AuditEntryRow(Base):
    """One access decision (permit or deny) in the hash-chained audit log; append-only.

    Ids and categories only — never personal data values.
    """

    __tablename__ = "audit_entry"

    seq: Mapped[int] = mapped_column(SeqKey, primary_key=True, autoincrement=False)
    at: Mapped[datetime]
    actor_id: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(64))
    service: Mapped[str] = mapped_column(String(128))
    purpose_id: Mapped[str] = mapped_column(String(128))
    subject_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    categories: Mapped[list[str]]
    decision: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str] = mapped_column(String(128))
    policy_version: Mapped[str] = mapped_column(String(64))
    consent_record_id: Mapped[str | None] = mapped_column(String(36))
    request_id: Mapped[str] = mapped_column(String(128))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        CheckConstraint("seq >= 1", name="seq"),
        CheckConstraint(_in("decision", ("permit", "deny")), name="decision"),
    )


class AuditCheckpointRow(Base):
    """A signed statement "the log had entry ``seq`` with hash ``entry_hash``"; append-only.

    The same line also goes to an external append-only file, so that a truncated and re-chained
    database tail is still detected.
    """

    __tablename__ = "audit_checkpoint"

    seq: Mapped[int] = mapped_column(SeqKey, primary_key=True, autoincrement=False)
    entry_hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]
    signature: Mapped[str] = mapped_column(String(128))


# -- proactive offers and messaging (revision 0003) -------------------------------------------------
# Campaigns, offers with their recipients and append-only transitions, the outbox of SMS to send,
# delivery reports and inbound replies. Dedup lives in unique keys: an outbox message's
# ``idempotency_key`` (offer|kind|recipient|attempt), a delivery report's (provider, provider message
# id, status) and an inbound reply's (provider, provider message id).

OUTBOX_STATES = ("queued", "sending", "sent", "failed")
OFFER_APPEND_ONLY_TABLES = ("offer_transition", "delivery_report", "inbound_reply")
JsonDoc = JSON().with_variant(JSONB(), "postgresql")


class CampaignRow(Base):
    """One run of a proactive service on a date; ``campaign_key`` (service|date) makes a re-run reuse it."""

    __tablename__ = "campaign"

    campaign_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    campaign_key: Mapped[str] = mapped_column(String(200), unique=True)
    service_id: Mapped[str] = mapped_column(String(128))
    service_version: Mapped[str] = mapped_column(String(64))
    run_on: Mapped[str] = mapped_column(String(10))
    actor_id: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime]


class OfferRow(Base):
    """An offer to one subject (e.g. a child); its current state mirrors the last transition."""

    __tablename__ = "offer"

    offer_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    campaign_id: Mapped[str] = mapped_column(String(36), ForeignKey("campaign.campaign_id"))
    service_id: Mapped[str] = mapped_column(String(128))
    subject_id: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(32), index=True)
    language: Mapped[str] = mapped_column(String(2))
    district: Mapped[str | None] = mapped_column(String(16))
    fields: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    deadline_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        UniqueConstraint("campaign_id", "subject_id"),
        CheckConstraint(_in("language", ("fi", "sv", "en")), name="language"),
    )


class OfferRecipientRow(Base):
    """A guardian an offer goes to, with the phone replies come from and their latest valid answer."""

    __tablename__ = "offer_recipient"

    offer_id: Mapped[str] = mapped_column(String(36), ForeignKey("offer.offer_id"), primary_key=True)
    person_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    phone: Mapped[str] = mapped_column(String(32), index=True)
    language: Mapped[str] = mapped_column(String(2))
    answer: Mapped[str | None] = mapped_column(String(16))
    answered_at: Mapped[datetime | None]
    opted_out_at: Mapped[datetime | None]  # STOP/LOPETA/SLUTA: no more SMS; the offer stays open


class OfferTransitionRow(Base):
    """One named state change of an offer; append-only (every transition is kept)."""

    __tablename__ = "offer_transition"

    offer_id: Mapped[str] = mapped_column(String(36), ForeignKey("offer.offer_id"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(32))
    to_state: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(64))
    cause: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (CheckConstraint("seq >= 1", name="seq"),)


class OutboxMessageRow(Base):
    """An SMS to send. ``idempotency_key`` is also the provider's client reference, so a resend after
    a crash is recognised by the gateway (exactly once with an idempotent provider)."""

    __tablename__ = "outbox_message"

    message_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    offer_id: Mapped[str | None] = mapped_column(String(36), ForeignKey("offer.offer_id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    recipient_id: Mapped[int | None] = mapped_column(BigInteger)
    phone: Mapped[str] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(2))
    body: Mapped[str] = mapped_column(Text)
    encoding: Mapped[str] = mapped_column(String(8))
    segments: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    claimed_until: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer)
    sent_at: Mapped[datetime | None]
    provider: Mapped[str | None] = mapped_column(String(32))
    provider_message_id: Mapped[str | None] = mapped_column(String(128), index=True)
    delivery_status: Mapped[str | None] = mapped_column(String(16))
    delivered_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(String(256))
    # sms, or letter: the fallback batch (suomi.fi messages / print), drained by its own sender (0005)
    channel: Mapped[str] = mapped_column(String(16), server_default="sms")

    __table_args__ = (
        CheckConstraint(_in("status", OUTBOX_STATES), name="status"),
        CheckConstraint("segments >= 1", name="segments"),
        Index(None, "status", "created_at"),
    )


class DeliveryReportRow(Base):
    """A delivery report as the provider sent it; a duplicate (same provider, id, status) is refused."""

    __tablename__ = "delivery_report"

    report_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    provider: Mapped[str] = mapped_column(String(32))
    provider_message_id: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))
    reported_at: Mapped[datetime]
    received_at: Mapped[datetime]
    message_id: Mapped[str | None] = mapped_column(String(36))

    __table_args__ = (UniqueConstraint("provider", "provider_message_id", "status"),)


class InboundReplyRow(Base):
    """An inbound SMS and what it did; a redelivery (same provider and id) is refused, so it acts once."""

    __tablename__ = "inbound_reply"

    inbound_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    provider: Mapped[str] = mapped_column(String(32))
    provider_message_id: Mapped[str] = mapped_column(String(128))
    from_phone: Mapped[str] = mapped_column(String(32))
    body: Mapped[str] = mapped_column(Text)
    sent_at: Mapped[datetime]
    received_at: Mapped[datetime]
    offer_id: Mapped[str | None] = mapped_column(String(36), index=True)
    choice: Mapped[str | None] = mapped_column(String(16))
    outcome: Mapped[str] = mapped_column(String(32))

    __table_args__ = (UniqueConstraint("provider", "provider_message_id"),)


# -- employment service 2.0 (revision 0004) ---------------------------------------------------------
# A job seeker's registration with the suggestions made at once (also kept row by row, as feedback
# for the next model), and the counsellor's decisions with their reasons (append-only; the latest
# one for a registration is in force). The background is personal data of the employment services
# register; it is kept here because the counsellor serves the customer from it.

EmploymentJson = JSON().with_variant(JSONB(), "postgresql")
EMPLOYMENT_DECISION_TABLE = "employment_decision"


class EmploymentRegistrationRow(Base):
    """A registration as received, the model version that answered it and the answer shown."""

    __tablename__ = "employment_registration"

    registration_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    person_id: Mapped[int] = mapped_column(BigInteger, index=True)
    created_at: Mapped[datetime] = mapped_column(index=True)
    language: Mapped[str] = mapped_column(String(2))
    background: Mapped[dict[str, Any]] = mapped_column(EmploymentJson)
    categories: Mapped[list[str]]
    model_version: Mapped[str] = mapped_column(String(32))
    cluster_id: Mapped[int] = mapped_column(Integer)
    top_service: Mapped[str | None] = mapped_column(String(64))
    p_without: Mapped[float] = mapped_column(Float)
    result: Mapped[dict[str, Any]] = mapped_column(EmploymentJson)

    __table_args__ = (CheckConstraint(_in("language", ("fi", "sv", "en")), name="language"),)


class EmploymentSuggestionRow(Base):
    """One ranked suggestion made for a registration (effects in probability, 95 % interval)."""

    __tablename__ = "employment_suggestion"

    registration_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("employment_registration.registration_id",
                               name=conv("fk_employment_suggestion_registration")), primary_key=True)
    rank: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    service: Mapped[str] = mapped_column(String(64))
    effect: Mapped[float] = mapped_column(Float)
    effect_low: Mapped[float] = mapped_column(Float)
    effect_high: Mapped[float] = mapped_column(Float)
    p_with: Mapped[float] = mapped_column(Float)

    __table_args__ = (CheckConstraint("rank >= 1", name="rank"),)


class EmploymentDecisionRow(Base):
    """The counsellor's choice of service for a registration and why."""

    __tablename__ = EMPLOYMENT_DECISION_TABLE

    decision_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    registration_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("employment_registration.registration_id",
                               name=conv("fk_employment_decision_registration")), index=True)
    counsellor_id: Mapped[str] = mapped_column(String(128))
    service: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    top_suggestion: Mapped[str | None] = mapped_column(String(64))
    followed_suggestion: Mapped[bool]
    decided_at: Mapped[datetime]
