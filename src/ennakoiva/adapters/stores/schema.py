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
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    TypeDecorator,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "APPEND_ONLY_TABLES",
    "CONSENT_STATES",
    "AuditCheckpointRow",
    "AuditEntryRow",
    "Base",
    "ConsentEventRow",
    "ConsentPersonRow",
    "ConsentRecordRow",
    "JsonList",
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
