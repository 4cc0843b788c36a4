"""The hash-chained audit log in the operational store (the ``AuditLog`` port).

Appends take one lock for the whole batch — a transaction-scoped advisory lock keyed by the table
on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite — read the last entry's ``seq`` and hash, and insert
the new entries chained to it, so ``seq`` runs 1, 2, 3 … with no gaps and no forks however many
processes write. Times are normalised to UTC *before* hashing (the store hands them back in UTC, and
the hash must be recomputable from what it hands back).

Signed checkpoints (HMAC-SHA256, key from the settings) go both into ``audit_checkpoint`` and, as one
JSON line each, into an external append-only file: a database whose tail was truncated and
re-chained no longer reaches the seq a checkpoint in that file vouches for.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from pydantic import ValidationError
from sqlalchemy import Connection, Engine, Table, and_, bindparam, func, insert, select, text

from ennakoiva.adapters.stores.consent_repository import plausible_id
from ennakoiva.adapters.stores.database import is_postgresql, reader, write_transaction
from ennakoiva.adapters.stores.schema import AuditCheckpointRow, AuditEntryRow
from ennakoiva.domain.consent.audit import GENESIS, AuditEntry, AuditRecord, Checkpoint, chain_hash, sign_checkpoint

__all__ = ["SqlAuditLog", "read_checkpoint_file"]

AUDIT = cast(Table, AuditEntryRow.__table__)
CHECKPOINT = cast(Table, AuditCheckpointRow.__table__)
# Namespace for the advisory lock (ASCII "enna"), combined with the table's oid so that stores in
# different schemas of one database do not serialise on each other.
_LOCK_NAMESPACE = 0x656E6E61
_PG_LOCK = text(f"SELECT pg_advisory_xact_lock(({_LOCK_NAMESPACE}::bigint << 32)"
                " | 'audit_entry'::regclass::oid::bigint)")
_INSERT_CHUNK = 5_000
_FIELDS = ("seq", "at", "actor_id", "role", "service", "purpose_id", "subject_id", "categories", "decision", "reason",
           "policy_version", "consent_record_id", "request_id", "prev_hash", "hash")
_COLUMNS = [AUDIT.c[name] for name in _FIELDS]
_BY_SUBJECT = select(*_COLUMNS).where(AUDIT.c.subject_id == bindparam("subject_id")).order_by(AUDIT.c.seq)
_COUNT_PERMITS = select(func.count()).select_from(AUDIT).where(and_(
    AUDIT.c.subject_id == bindparam("subject_id"), AUDIT.c.purpose_id == bindparam("purpose_id"),
    AUDIT.c.decision == "permit", AUDIT.c.at >= bindparam("since", type_=AUDIT.c.at.type)))
# categories as text on both engines: psycopg's own jsonb decoding costs four times json.loads(str).
_PAGE = text(f"SELECT {', '.join(f if f != 'categories' else 'CAST(categories AS TEXT)' for f in _FIELDS)} "
             "FROM audit_entry WHERE seq > :after ORDER BY seq LIMIT :limit")


def _utc(value: datetime, what: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware")
    return value.astimezone(UTC)


def _entry(row: Sequence[Any]) -> AuditEntry:
    """An entry from a row of ``_COLUMNS`` (processed by SQLAlchemy: aware UTC time, list)."""
    return _validated(dict(zip(_FIELDS, row, strict=True)))


def _validated(fields: dict[str, Any]) -> AuditEntry:
    try:
        return AuditEntry.model_validate(fields)
    except ValidationError:
        # A row edited behind the application's back can break a field's format (a hash that is
        # not hex …). Hand it over as it is: verify_chain recomputes the hash and names the seq,
        # which is more use than an exception in the middle of the walk.
        return AuditEntry.model_construct(**fields)


_FIELD_SET = frozenset(_FIELDS)
_CATEGORY_MEMO = 4_096


def _assemble(fields: dict[str, Any]) -> AuditEntry:
    """An entry from already well-typed fields, without pydantic's per-field work.

    The hot path of a verification walk over millions of entries: ``model_construct`` costs about
    four microseconds an entry and validation about three, this under one. Skipping validation is
    safe here because ``verify_chain`` recomputes every hash from these very fields; the fields
    come from columns whose types and CHECK constraints the schema enforces. A test compares these
    entries with validated ones, so a change in pydantic's internals cannot go unnoticed.
    """
    entry = AuditEntry.__new__(AuditEntry)
    object.__setattr__(entry, "__dict__", fields)
    object.__setattr__(entry, "__pydantic_fields_set__", set(_FIELD_SET))
    object.__setattr__(entry, "__pydantic_extra__", None)
    object.__setattr__(entry, "__pydantic_private__", None)
    return entry


def _raw_converter(dialect: str) -> Callable[[Sequence[Any]], AuditEntry]:
    """Turn a raw driver row (textual SQL, no SQLAlchemy type processing) into an entry.

    SQLite hands back ISO text for the time, psycopg an aware datetime; both JSON text for the list.
    A log holds few distinct category lists, so their decoding is memoised (bounded).
    """
    decoded: dict[str, tuple[str, ...]] = {}

    def categories(raw: str) -> tuple[str, ...]:
        found = decoded.get(raw)
        if found is None:
            found = tuple(json.loads(raw))
            if len(decoded) < _CATEGORY_MEMO:
                decoded[raw] = found
        return found

    if dialect == "sqlite":
        def when(raw: Any) -> datetime:
            return datetime.fromisoformat(raw).replace(tzinfo=UTC)
    else:
        def when(raw: Any) -> datetime:
            aware: datetime = raw.astimezone(UTC)
            return aware

    def convert(row: Sequence[Any]) -> AuditEntry:
        return _assemble({
            "seq": row[0], "at": when(row[1]), "actor_id": row[2], "role": row[3], "service": row[4],
            "purpose_id": row[5], "subject_id": row[6], "categories": categories(row[7]), "decision": row[8],
            "reason": row[9], "policy_version": row[10], "consent_record_id": row[11], "request_id": row[12],
            "prev_hash": row[13], "hash": row[14]})

    return convert


def read_checkpoint_file(path: Path) -> list[Checkpoint]:
    """The checkpoints in an external JSON-lines file (none if it does not exist yet)."""
    if not path.exists():
        return []
    out = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                out.append(Checkpoint.model_validate_json(line))
            except ValueError as exc:
                raise ValueError(f"{path}:{number}: not a checkpoint line ({exc.__class__.__name__})") from None
    return out


class SqlAuditLog:
    """``AuditLog`` over SQLAlchemy: SQLite or PostgreSQL, one engine.

    ``key`` signs checkpoints; ``checkpoint_file`` receives a copy of each; with
    ``checkpoint_every`` set, a checkpoint is signed automatically whenever an append crosses a
    multiple of it.
    """

    def __init__(self, engine: Engine, *, key: bytes | None = None, checkpoint_file: Path | None = None,
                 checkpoint_every: int | None = None, page_size: int = 20_000) -> None:
        if checkpoint_every is not None and checkpoint_every < 1:
            raise ValueError("checkpoint_every must be positive")
        self.engine = engine
        self.key = key
        self.checkpoint_file = checkpoint_file
        self.checkpoint_every = checkpoint_every
        self.page_size = page_size
        self._pg = is_postgresql(engine)
        self._reader = reader(engine)

    # -- writing --------------------------------------------------------------------------------

    def _lock_and_last(self, conn: Connection) -> tuple[int, str]:
        if self._pg:
            conn.execute(_PG_LOCK)
        last = conn.execute(select(AUDIT.c.seq, AUDIT.c.hash).order_by(AUDIT.c.seq.desc()).limit(1)).first()
        return (last.seq, last.hash) if last is not None else (0, GENESIS)

    def append(self, record: AuditRecord) -> AuditEntry:
        """Append one decision; returns it with its seq and hashes."""
        return self.append_many([record])[0]

    def append_many(self, records: Sequence[AuditRecord]) -> list[AuditEntry]:
        """Append decisions in one transaction, in the order given."""
        if not records:
            return []
        prepared = [r if r.at.tzinfo is UTC else r.model_copy(update={"at": _utc(r.at, "audit time")})
                    for r in records]
        with write_transaction(self.engine) as conn:
            first_seq, prev_hash = self._lock_and_last(conn)
            entries: list[AuditEntry] = []
            rows: list[dict[str, Any]] = []
            seq = first_seq
            for record in prepared:
                seq += 1
                digest = chain_hash(prev_hash, seq, record)
                fields = dict(record)
                entries.append(AuditEntry.model_construct(**fields, seq=seq, prev_hash=prev_hash, hash=digest))
                fields.update(seq=seq, prev_hash=prev_hash, hash=digest, categories=list(record.categories))
                rows.append(fields)
                prev_hash = digest
            for start in range(0, len(rows), _INSERT_CHUNK):
                conn.execute(insert(AUDIT), rows[start:start + _INSERT_CHUNK])
        every = self.checkpoint_every
        if every and self.key is not None and seq // every > first_seq // every:
            self.checkpoint(datetime.now(UTC))
        return entries

    # -- reading --------------------------------------------------------------------------------

    def entries(self, from_seq: int = 1) -> Iterator[AuditEntry]:
        """Every entry from ``from_seq`` on, in seq order, read in pages (keyset pagination).

        Each page is its own short read, so a walk over millions of entries holds no long
        transaction and no connection between pages; the next page is fetched in a helper thread
        while the caller works through the current one. Pages are plain textual SQL converted by
        hand: SQLAlchemy's per-value result processing would double the cost of a full walk.
        """
        convert = _raw_converter(self.engine.dialect.name)

        def fetch(after: int) -> Sequence[Sequence[Any]]:
            with self._reader.connect() as conn:
                return conn.execute(_PAGE, {"after": after, "limit": self.page_size}).all()

        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="audit-page") as pool:
            page = fetch(from_seq - 1)
            while page:
                upcoming = pool.submit(fetch, page[-1][0]) if len(page) == self.page_size else None
                try:
                    for row in page:
                        yield convert(row)
                finally:
                    if upcoming is not None and not upcoming.done():
                        upcoming.cancel()
                page = upcoming.result() if upcoming is not None else []

    def for_subject(self, subject_id: int) -> list[AuditEntry]:
        """Every entry about one subject (permits and denials), in seq order."""
        if not plausible_id(subject_id):
            return []
        with self._reader.connect() as conn:
            return [_entry(row) for row in conn.execute(_BY_SUBJECT, {"subject_id": subject_id})]

    def count_permits(self, subject_id: int, purpose_id: str, since: datetime) -> int:
        """Permitted uses of one subject's data for one purpose since a moment (periodic limits)."""
        if not plausible_id(subject_id):
            return 0
        params = {"subject_id": subject_id, "purpose_id": purpose_id, "since": _utc(since, "since")}
        with self._reader.connect() as conn:
            return int(conn.execute(_COUNT_PERMITS, params).scalar_one())

    def last(self) -> tuple[int, str]:
        """The last entry's seq and hash; ``(0, GENESIS)`` for an empty log."""
        with self._reader.connect() as conn:
            last = conn.execute(select(AUDIT.c.seq, AUDIT.c.hash).order_by(AUDIT.c.seq.desc()).limit(1)).first()
        return (last.seq, last.hash) if last is not None else (0, GENESIS)

    # -- checkpoints ----------------------------------------------------------------------------

    def checkpoint(self, at: datetime) -> Checkpoint:
        """Sign the current head of the chain; store it in the database and the external file.

        If the head is already checkpointed, that checkpoint is returned (and copied to the file
        if the file lacks it).
        """
        if self.key is None:
            raise ValueError("no audit key: checkpoints cannot be signed")
        at = _utc(at, "checkpoint time")
        with write_transaction(self.engine) as conn:
            seq, head = self._lock_and_last(conn)
            existing = conn.execute(select(CHECKPOINT).where(CHECKPOINT.c.seq == seq)).mappings().first()
            if existing is not None:
                checkpoint = Checkpoint(seq=existing["seq"], entry_hash=existing["entry_hash"], at=existing["at"],
                                        signature=existing["signature"])
                if self.checkpoint_file is not None and checkpoint not in read_checkpoint_file(self.checkpoint_file):
                    self._write_file(checkpoint)
                return checkpoint
            checkpoint = sign_checkpoint(seq, head, at, self.key)
            conn.execute(insert(CHECKPOINT), checkpoint.model_dump())
            # Written before the commit: a witness line for a checkpoint whose row then failed to
            # commit is still true (the entries it vouches for were committed earlier).
            self._write_file(checkpoint)
        return checkpoint

    def _write_file(self, checkpoint: Checkpoint) -> None:
        if self.checkpoint_file is None:
            return
        path = self.checkpoint_file.expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"seq": checkpoint.seq, "entry_hash": checkpoint.entry_hash,
                           "at": checkpoint.at.isoformat(), "signature": checkpoint.signature}) + "\n"
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)

    def checkpoints(self) -> list[Checkpoint]:
        """Checkpoints from the database and the external file, ordered by seq.

        Where both hold one for the same seq, the file's comes last, so ``verify_chain`` (which
        keeps the last per seq) trusts the external witness; every other one is still checked
        against the key.
        """
        with self._reader.connect() as conn:
            rows = conn.execute(select(CHECKPOINT).order_by(CHECKPOINT.c.seq)).mappings().all()
        stored = [Checkpoint(seq=r["seq"], entry_hash=r["entry_hash"], at=r["at"], signature=r["signature"])
                  for r in rows]
        external = read_checkpoint_file(self.checkpoint_file) if self.checkpoint_file is not None else []
        seen = {(c.seq, c.entry_hash, c.signature) for c in external}
        merged = [c for c in stored if (c.seq, c.entry_hash, c.signature) not in seen] + external
        return sorted(merged, key=lambda c: c.seq)  # stable: the file's stays after the database's

    def count(self) -> int:
        with self._reader.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(AUDIT)).scalar_one())
