"""Consent records and their append-only events in the operational store (the ``ConsentStore`` port).

Concurrency: every write locks the record row first (``SELECT … FOR UPDATE`` on PostgreSQL;
``BEGIN IMMEDIATE`` takes the database write lock on SQLite), then checks that the new event
follows the last stored one (``seq`` + 1, ``prev_hash`` = its hash). A grant and a withdrawal that
race therefore serialise: the second to arrive finds the chain moved on and gets
``ConsentError('concurrent_change')`` — never a forked chain. A record holds ``active_key``
(``"<subject>|<purpose>"``, UNIQUE) until it is final, so two active consents for one subject and
purpose are impossible in the database itself; the store turns that conflict into
``ConsentError('already_active')``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast
from uuid import UUID

from sqlalchemy import Connection, Engine, RowMapping, Select, Table, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from ennakoiva.adapters.stores.database import is_postgresql, reader, write_transaction
from ennakoiva.adapters.stores.schema import ConsentEventRow, ConsentPersonRow, ConsentRecordRow
from ennakoiva.domain.consent.purposes import LegalBasis, canonical_purpose_id
from ennakoiva.domain.consent.records import (
    FINAL_STATES,
    GENESIS_HASH,
    ConsentError,
    ConsentEvent,
    ConsentRecord,
    ConsentState,
    Party,
    event_hash,
    status_at,
)

__all__ = ["SqlConsentStore", "event_from_row", "event_row", "plausible_id", "record_from_row", "record_row"]

RECORD = cast(Table, ConsentRecordRow.__table__)
EVENT = cast(Table, ConsentEventRow.__table__)
PERSON = cast(Table, ConsentPersonRow.__table__)
_RECORD_COLUMNS = list(RECORD.c)
_EVENT_COLUMNS = [c.label(f"e_{c.name}") for c in EVENT.c]


def _records_with_events(where: Any) -> Select[Any]:
    # One round trip: records joined with their events (every record has at least one). Built once
    # at import: constructing a statement costs more than running it on a warm database.
    return (select(*_RECORD_COLUMNS, *_EVENT_COLUMNS)
            .join_from(RECORD, EVENT, RECORD.c.record_id == EVENT.c.record_id)
            .where(where)
            .order_by(RECORD.c.created_at, RECORD.c.record_id, EVENT.c.seq))


_BY_RECORD = _records_with_events(RECORD.c.record_id == bindparam("record_id"))
_BY_SUBJECT = _records_with_events(RECORD.c.subject_id == bindparam("subject_id"))
_BY_PERSON = _records_with_events(RECORD.c.record_id.in_(
    select(PERSON.c.record_id).where(PERSON.c.person_id == bindparam("person_id"))))
_BY_SUBJECT_PURPOSE = _records_with_events((RECORD.c.subject_id == bindparam("subject_id"))
                                           & (RECORD.c.purpose_id == bindparam("purpose_id")))


def _require_utc(value: datetime | None, what: str) -> None:
    # The hash covers the time's ISO text; the store hands times back in UTC, so anything else
    # would read back as a different text and its hash could never be re-verified.
    if value is not None and value.utcoffset() != timedelta(0):
        raise ConsentError("not_utc", f"{what} must be in UTC to be stored (got {value.isoformat()})")


def record_row(record: ConsentRecord, *, active: bool) -> dict[str, Any]:
    """The ``consent_record`` row of a domain record."""
    return {
        "record_id": str(record.record_id), "schema_version": record.schema_version, "subject_id": record.subject_id,
        "covered_subjects": list(record.covered_subjects), "purpose_id": record.purpose_id,
        "purpose_version": record.purpose_version, "notice_version": record.notice_version,
        "notice_sha256": record.notice_sha256, "language": record.language, "controller_id": record.controller_id,
        "legal_basis": record.legal_basis.value, "data_categories": list(record.data_categories),
        "required_parties": list(record.required_parties), "withdrawal_method": record.withdrawal_method,
        "jurisdiction": record.jurisdiction, "created_at": record.created_at, "valid_until": record.valid_until,
        "active_key": record.active_key if active else None,
    }


def event_row(event: ConsentEvent) -> dict[str, Any]:
    """The ``consent_event`` row of a domain event."""
    return {
        "record_id": str(event.record_id), "seq": event.seq, "state": event.state.value,
        "party_id": event.party.person_id, "party_role": event.party.role, "auth_method": event.party.auth_method,
        "channel": event.party.channel, "at": event.at, "valid_until": event.valid_until,
        "prev_hash": event.prev_hash, "hash": event.hash,
    }


def record_from_row(row: RowMapping) -> ConsentRecord:
    return ConsentRecord(
        record_id=UUID(row["record_id"]), schema_version=row["schema_version"], subject_id=row["subject_id"],
        covered_subjects=tuple(row["covered_subjects"]), purpose_id=row["purpose_id"],
        purpose_version=row["purpose_version"], notice_version=row["notice_version"],
        notice_sha256=row["notice_sha256"], language=row["language"], controller_id=row["controller_id"],
        legal_basis=LegalBasis(row["legal_basis"]), data_categories=tuple(row["data_categories"]),
        required_parties=tuple(row["required_parties"]), withdrawal_method=row["withdrawal_method"],
        jurisdiction=row["jurisdiction"], created_at=row["created_at"], valid_until=row["valid_until"],
    )


def event_from_row(row: RowMapping, prefix: str = "") -> ConsentEvent:
    def get(name: str) -> Any:
        return row[prefix + name]

    return ConsentEvent(
        record_id=UUID(get("record_id")), seq=get("seq"), state=ConsentState(get("state")),
        party=Party(person_id=get("party_id"), role=get("party_role"), auth_method=get("auth_method"),
                    channel=get("channel")),
        at=get("at"), valid_until=get("valid_until"), prev_hash=get("prev_hash"), hash=get("hash"),
    )


def plausible_id(value: object) -> bool:
    """Subject ids are positive BIGINTs; anything else cannot be in the store."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**63


def person_rows(record_id: str, subject_id: int, parties: Sequence[int], covered: Sequence[int],
                ) -> list[dict[str, object]]:
    """One ``consent_person`` row per (person, relation) of a record (migration 0002 back-fills alike)."""
    found = {(subject_id, "subject")} | {(int(p), "party") for p in parties} | {(int(c), "covered") for c in covered}
    return [{"record_id": record_id, "person_id": pid, "relation": rel} for pid, rel in sorted(found)]


def _check_hash(event: ConsentEvent) -> None:
    if event_hash(event.prev_hash, event.payload()) != event.hash:
        raise ConsentError("hash_mismatch", f"event {event.seq} of record {event.record_id} does not match its hash")


class SqlConsentStore:
    """``ConsentStore`` over SQLAlchemy: SQLite or PostgreSQL, one engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._pg = is_postgresql(engine)
        self._reader = reader(engine)

    # -- writes ---------------------------------------------------------------------------------

    def add(self, record: ConsentRecord, first: ConsentEvent) -> None:
        """Store a record with its first event, atomically; a second active record is refused."""
        if first.record_id != record.record_id or first.seq != 1 or first.prev_hash != GENESIS_HASH:
            raise ConsentError("bad_first_event", "the first event must be seq 1 of this record, chained to genesis")
        for value, what in ((record.created_at, "created_at"), (record.valid_until, "valid_until"),
                            (first.at, "event time"), (first.valid_until, "event valid_until")):
            _require_utc(value, what)
        _check_hash(first)
        active = first.state not in FINAL_STATES
        try:
            with write_transaction(self.engine) as conn:
                if active:
                    self._free_lapsed_slot(conn, record.active_key, first.at)
                conn.execute(insert(RECORD), record_row(record, active=active))
                conn.execute(insert(PERSON), person_rows(str(record.record_id), record.subject_id,
                                                         record.required_parties, record.covered_subjects))
                conn.execute(insert(EVENT), event_row(first))
        except IntegrityError as exc:
            raise _integrity_error(exc, record) from None

    def append(self, event: ConsentEvent) -> None:
        """Store the next event of a record; it must follow the last stored one exactly."""
        _require_utc(event.at, "event time")
        _require_utc(event.valid_until, "event valid_until")
        _check_hash(event)
        record_id = str(event.record_id)
        with write_transaction(self.engine) as conn:
            lock = select(RECORD.c.record_id, RECORD.c.active_key).where(RECORD.c.record_id == record_id)
            if self._pg:
                lock = lock.with_for_update()
            held = conn.execute(lock).first()
            if held is None:
                raise ConsentError("unknown_record", f"no consent record {record_id}")
            last = conn.execute(
                select(EVENT.c.seq, EVENT.c.hash).where(EVENT.c.record_id == record_id)
                .order_by(EVENT.c.seq.desc()).limit(1)).first()
            if last is None or event.seq != last.seq + 1 or event.prev_hash != last.hash:
                raise ConsentError("concurrent_change",
                                   f"record {record_id} changed meanwhile: event {event.seq} no longer follows "
                                   f"its last event {last.seq if last else 0}; reload and decide again")
            if held.active_key is None and event.state not in FINAL_STATES:
                # NULL active_key means final (withdrawn, refused, expired, invalidated): nothing may
                # bring the record back, or it could stand beside the subject's newer record.
                raise ConsentError("final", f"consent record {record_id} is final; a new consent needs a new record")
            conn.execute(insert(EVENT), event_row(event))
            if event.state in FINAL_STATES and held.active_key is not None:
                conn.execute(update(RECORD).where(RECORD.c.record_id == record_id).values(active_key=None))

    def _free_lapsed_slot(self, conn: Connection, active_key: str, at: datetime) -> None:
        """A record whose validity ran out without an explicit event is final: free its slot."""
        query = select(*_RECORD_COLUMNS).where(RECORD.c.active_key == active_key)
        if self._pg:
            query = query.with_for_update()
        holder = conn.execute(query).mappings().first()
        if holder is None:
            return
        events = self._events(conn, [holder["record_id"]])[holder["record_id"]]
        status = status_at(record_from_row(holder), events, at)
        if status.state in FINAL_STATES:
            conn.execute(update(RECORD).where(RECORD.c.record_id == holder["record_id"]).values(active_key=None))

    # -- reads ----------------------------------------------------------------------------------

    def get(self, record_id: UUID | str) -> tuple[ConsentRecord, list[ConsentEvent]]:
        """One record with its events in order; ``ConsentError('unknown_record')`` if there is none."""
        try:
            key = str(UUID(str(record_id)))
        except ValueError:
            raise ConsentError("unknown_record", f"not a consent record id: {str(record_id)[:80]!r}") from None
        found = self._load(_BY_RECORD, {"record_id": key})
        if not found:
            raise ConsentError("unknown_record", f"no consent record {key}")
        return found[0]

    def for_subject(self, subject_id: int, purpose_id: str | None = None,
                    ) -> list[tuple[ConsentRecord, list[ConsentEvent]]]:
        """A subject's records (optionally for one purpose), oldest first, each with its events.

        Purpose ids compare canonically (``Daycare-Fee`` is ``daycare-fee``); an id or subject that
        no record can have (wrong type, out of range, not a purpose id) finds nothing.
        """
        if not plausible_id(subject_id):
            return []
        if purpose_id is None:
            return self._load(_BY_SUBJECT, {"subject_id": subject_id})
        try:
            canonical = canonical_purpose_id(purpose_id)
        except (ValueError, TypeError):
            return []
        return self._load(_BY_SUBJECT_PURPOSE, {"subject_id": subject_id, "purpose_id": canonical})

    def for_person(self, person_id: int) -> list[tuple[ConsentRecord, list[ConsentEvent]]]:
        """Every record that concerns a person: as its subject, a required party or a covered person.

        This is what a guardian's own view lists: the consent they gave for their child, and the
        household consent that covers their income.
        """
        if not plausible_id(person_id):
            return []
        return self._load(_BY_PERSON, {"person_id": person_id})

    def _load(self, query: Select[Any], params: dict[str, Any]) -> list[tuple[ConsentRecord, list[ConsentEvent]]]:
        with self._reader.connect() as conn:
            rows = conn.execute(query, params).mappings().all()
        out: list[tuple[ConsentRecord, list[ConsentEvent]]] = []
        current: str | None = None
        for row in rows:
            if row["record_id"] != current:
                current = row["record_id"]
                out.append((record_from_row(row), []))
            out[-1][1].append(event_from_row(row, "e_"))
        return out

    def _events(self, conn: Connection, record_ids: Sequence[str]) -> dict[str, list[ConsentEvent]]:
        rows = conn.execute(select(EVENT).where(EVENT.c.record_id.in_(record_ids))
                            .order_by(EVENT.c.record_id, EVENT.c.seq)).mappings()
        out: dict[str, list[ConsentEvent]] = {r: [] for r in record_ids}
        for row in rows:
            out[row["record_id"]].append(event_from_row(row))
        return out

    def count(self) -> int:
        """How many records the store holds (for ``info`` and benchmarks)."""
        with self._reader.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(RECORD)).scalar_one())


def _integrity_error(exc: IntegrityError, record: ConsentRecord) -> ConsentError:
    text = str(exc.orig)
    if "active_key" in text:
        return ConsentError("already_active", f"subject {record.subject_id} already has an active consent for "
                                              f"'{record.purpose_id}'; withdraw it or wait for it to end first")
    if "consent_record" in text and ("record_id" in text or "pk_" in text):
        return ConsentError("duplicate_record", f"consent record {record.record_id} already exists")
    return ConsentError("rejected_by_store", f"the store refused the record: {text.splitlines()[0][:200]}")
