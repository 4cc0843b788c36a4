"""Ports: what the domain and the use cases need from the outside, as Protocols.

The data engine is deliberately narrow — write batches, read tables, describe, export — so that a
Spark engine can implement the same contract later.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol
from uuid import UUID

if TYPE_CHECKING:
    from ennakoiva.domain.consent.audit import AuditEntry, AuditRecord, Checkpoint
    from ennakoiva.domain.consent.records import ConsentEvent, ConsentRecord

__all__ = ["AuditLog", "ConsentStore", "DataEngine", "ExportFormat", "TableSink", "TableStats"]

ExportFormat = Literal["parquet", "csv"]


@dataclass(frozen=True)
class TableStats:
    """What ``ennakoiva info`` shows for one table."""

    name: str
    rows: int
    first_date: date | None
    last_date: date | None
    fingerprint: str


class TableSink(Protocol):
    """Anything that accepts batches of rows for a named table (Arrow tables, record batches)."""

    def append(self, table: str, batch: Any) -> None: ...


class DataEngine(TableSink, Protocol):
    """The one interface the rest of Ennakoiva uses to store and read the resident data layer."""

    def create_tables(self, *, replace: bool) -> None: ...

    def delete_where(self, table: str, column: str, values: Any) -> int: ...

    def read(self, table: str, columns: list[str] | None = None) -> Any: ...

    def table_names(self) -> list[str]: ...

    def stats(self) -> list[TableStats]: ...

    def size_bytes(self) -> int: ...

    def export(self, out_dir: Path, fmt: ExportFormat) -> Iterator[tuple[str, Path]]: ...

    def close(self) -> None: ...


class ConsentStore(Protocol):
    """Consent records and their append-only events (the operational store).

    ``add`` stores a record with its first event atomically and refuses a second non-final record
    for the same subject and purpose (``ConsentError('already_active')``). ``append`` stores the
    next event only if its ``seq`` follows the last stored one and its ``prev_hash`` links to it
    (``ConsentError('concurrent_change')`` otherwise), and frees the record's active slot when the
    event is final.
    """

    def add(self, record: ConsentRecord, first: ConsentEvent) -> None: ...

    def append(self, event: ConsentEvent) -> None: ...

    def get(self, record_id: UUID) -> tuple[ConsentRecord, list[ConsentEvent]]: ...

    def for_subject(self, subject_id: int, purpose_id: str | None = None,
                    ) -> list[tuple[ConsentRecord, list[ConsentEvent]]]: ...

    def for_person(self, person_id: int) -> list[tuple[ConsentRecord, list[ConsentEvent]]]: ...


class AuditLog(Protocol):
    """The append-only, hash-chained log of access decisions."""

    def append(self, record: AuditRecord) -> AuditEntry: ...

    def append_many(self, records: list[AuditRecord]) -> list[AuditEntry]: ...

    def entries(self, from_seq: int = 1) -> Iterator[AuditEntry]: ...

    def for_subject(self, subject_id: int) -> list[AuditEntry]: ...

    def count_permits(self, subject_id: int, purpose_id: str, since: datetime) -> int: ...

    def checkpoint(self, at: datetime) -> Checkpoint: ...

    def checkpoints(self) -> list[Checkpoint]: ...
