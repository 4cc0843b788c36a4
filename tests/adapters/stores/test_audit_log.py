"""The audit log on SQLite and PostgreSQL: gap-free chained appends, paging, checkpoints, tampering."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, text
from store_support import (  # noqa: F401 - pytest fixtures
    T0,
    audit_fixture,
    audit_key_fixture,
    audit_record,
    engine_fixture,
    execute_tampered,
    store_url_fixture,
)

from ennakoiva.adapters.stores import SqlAuditLog, read_checkpoint_file
from ennakoiva.adapters.stores.database import is_postgresql
from ennakoiva.domain.consent.audit import GENESIS, AuditEntry, VerifyReport, chain_hash, verify_chain


def _verify(audit: SqlAuditLog, key: bytes | None) -> VerifyReport:
    return verify_chain(audit.entries(), audit.checkpoints(), key)


def _seqs(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(text("SELECT seq FROM audit_entry ORDER BY seq")).scalars())


def test_single_and_batched_appends_chain_from_genesis(audit: SqlAuditLog, audit_key: bytes) -> None:
    first = audit.append(audit_record(0))
    assert (first.seq, first.prev_hash) == (1, GENESIS)
    batch = audit.append_many([audit_record(i) for i in range(1, 6)])
    assert [e.seq for e in batch] == [2, 3, 4, 5, 6]
    assert batch[0].prev_hash == first.hash
    assert audit.append_many([]) == []
    stored = list(audit.entries())
    assert stored == [first, *batch]
    # entries() builds its objects without pydantic validation (speed); they must be the same
    for entry in stored:
        assert AuditEntry.model_validate(entry.model_dump()) == entry
        assert AuditEntry.model_validate_json(entry.model_dump_json()) == entry
    assert audit.for_subject(stored[0].subject_id or 0)[0] == stored[0]
    assert all(chain_hash(e.prev_hash, e.seq, e.record()) == e.hash for e in stored)
    assert _verify(audit, audit_key) == VerifyReport(ok=True, entries=6, last_hash=batch[-1].hash)
    assert audit.last() == (6, batch[-1].hash)
    assert [e.seq for e in audit.entries(from_seq=5)] == [5, 6]


def test_times_are_stored_in_utc_and_hashes_survive_the_round_trip(audit: SqlAuditLog, audit_key: bytes) -> None:
    helsinki = (T0 + timedelta(microseconds=123_456)).astimezone(ZoneInfo("Europe/Helsinki"))
    entry = audit.append(audit_record(1, at=helsinki))
    (stored,) = audit.entries()
    assert stored.at == helsinki and stored.at.utcoffset() == timedelta(0)
    assert stored.hash == entry.hash
    assert _verify(audit, audit_key).ok


def test_naive_times_are_refused(audit: SqlAuditLog) -> None:
    naive = audit_record(1).model_copy(update={"at": T0.replace(tzinfo=None)})
    with pytest.raises(ValueError, match="timezone-aware"):
        audit.append(naive)
    assert audit.count() == 0


def test_entries_for_one_subject_and_permit_counts(audit: SqlAuditLog) -> None:
    audit.append_many([audit_record(i, subject_id=7 if i % 3 == 0 else 8, decision="permit" if i % 2 else "deny")
                       for i in range(12)])
    mine = audit.for_subject(7)
    assert [e.seq for e in mine] == [1, 4, 7, 10]
    assert {e.subject_id for e in mine} == {7}
    assert audit.for_subject(9) == [] and audit.for_subject(2**70) == []
    # permits for subject 7 are entries i = 3 and 9, at T0+3s and T0+9s
    assert audit.count_permits(7, "daycare-fee-income-check", since=T0) == 2
    assert audit.count_permits(7, "daycare-fee-income-check", since=T0 + timedelta(seconds=4)) == 1
    assert audit.count_permits(7, "preschool-offer", since=T0) == 0


def test_concurrent_appends_from_two_connections_leave_no_gaps(engine: Engine, audit: SqlAuditLog,
                                                             audit_key: bytes) -> None:
    logs = [SqlAuditLog(engine), SqlAuditLog(engine)]  # each append takes its own connection
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def writer(log: SqlAuditLog, offset: int) -> None:
        barrier.wait()
        try:
            for i in range(60):
                log.append(audit_record(offset + i))
                if i % 10 == 0:
                    log.append_many([audit_record(offset + 1000 + i + j) for j in range(25)])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(log, n * 10_000)) for n, log in enumerate(logs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    total = 2 * (60 + 6 * 25)
    assert _seqs(engine) == list(range(1, total + 1))
    assert _verify(audit, audit_key) == VerifyReport(ok=True, entries=total, last_hash=audit.last()[1])


def test_a_checkpoint_goes_to_the_database_and_the_external_file(audit: SqlAuditLog, audit_key: bytes,
                                                               tmp_path: Path) -> None:
    entries = audit.append_many([audit_record(i) for i in range(5)])
    cp = audit.checkpoint(T0 + timedelta(hours=1))
    assert (cp.seq, cp.entry_hash) == (5, entries[-1].hash)
    assert audit.checkpoint(T0 + timedelta(hours=2)) == cp  # nothing new to vouch for: the same one
    lines = (tmp_path / "checkpoints.jsonl").read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["seq"] == 5
    assert read_checkpoint_file(tmp_path / "checkpoints.jsonl") == [cp]
    with audit.engine.connect() as conn:
        assert conn.execute(text("SELECT seq, entry_hash, signature FROM audit_checkpoint")).all() == [
            (5, cp.entry_hash, cp.signature)]
    assert audit.checkpoints() == [cp]
    assert _verify(audit, audit_key).ok
    assert not _verify(audit, b"another key" * 3).ok  # a checkpoint signed with another key is no proof


def test_checkpoints_are_signed_periodically(engine: Engine, audit_key: bytes, tmp_path: Path) -> None:
    log = SqlAuditLog(engine, key=audit_key, checkpoint_file=tmp_path / "cp.jsonl", checkpoint_every=10)
    log.append_many([audit_record(i) for i in range(9)])
    assert log.checkpoints() == []
    log.append_many([audit_record(i) for i in range(9, 25)])
    assert [c.seq for c in log.checkpoints()] == [25]
    for i in range(25, 31):
        log.append(audit_record(i))
    assert [c.seq for c in log.checkpoints()] == [25, 30]
    assert [c.seq for c in read_checkpoint_file(tmp_path / "cp.jsonl")] == [25, 30]


def test_checkpoints_need_a_key(engine: Engine) -> None:
    with pytest.raises(ValueError, match="no audit key"):
        SqlAuditLog(engine).checkpoint(T0)


@pytest.fixture
def chained(audit: SqlAuditLog) -> list[AuditEntry]:
    entries = audit.append_many([audit_record(i) for i in range(10)])
    audit.checkpoint(T0 + timedelta(hours=1))
    return entries


def test_an_edited_entry_is_named(audit: SqlAuditLog, chained: list[AuditEntry], audit_key: bytes) -> None:
    execute_tampered(audit.engine, "UPDATE audit_entry SET reason = 'consent_active', decision = 'permit', "
                                   "subject_id = 4242 WHERE seq = 4")
    report = _verify(audit, audit_key)
    assert (report.ok, report.first_bad_seq) == (False, 4)


def test_a_deleted_middle_entry_is_named(audit: SqlAuditLog, chained: list[AuditEntry], audit_key: bytes) -> None:
    execute_tampered(audit.engine, "DELETE FROM audit_entry WHERE seq = 6")
    report = _verify(audit, audit_key)
    assert (report.ok, report.first_bad_seq) == (False, 6)


def test_reordered_entries_are_detected(audit: SqlAuditLog, chained: list[AuditEntry], audit_key: bytes) -> None:
    # swap the contents of rows 3 and 4 (keys stay, so the walk sees them in the swapped order)
    tmp = 1_000_000
    for old, new in ((3, tmp), (4, 3), (tmp, 4)):
        execute_tampered(audit.engine, "UPDATE audit_entry SET seq = :new WHERE seq = :old", old=old, new=new)
    report = _verify(audit, audit_key)
    assert (report.ok, report.first_bad_seq) == (False, 3)


def test_a_truncated_and_rechained_tail_is_caught_by_the_external_checkpoint(
        engine: Engine, tmp_path: Path, audit_key: bytes) -> None:
    log = SqlAuditLog(engine, key=audit_key, checkpoint_file=tmp_path / "witness.jsonl")
    log.append_many([audit_record(i) for i in range(10)])
    log.checkpoint(T0 + timedelta(hours=1))
    # the attacker removes entries 8-10 and the checkpoint row: the chain in the database is still whole
    execute_tampered(engine, "DELETE FROM audit_entry WHERE seq >= 8")
    execute_tampered(engine, "DELETE FROM audit_checkpoint")
    assert verify_chain(log.entries(), [], audit_key).ok
    report = _verify(log, audit_key)
    assert (report.ok, report.first_bad_seq) == (False, 8)
    assert "truncated" in (report.problem or "")


def test_a_forked_entry_is_detected(audit: SqlAuditLog, chained: list[AuditEntry], audit_key: bytes) -> None:
    # entry 6 rewritten to claim the same predecessor as entry 5 (two entries with one prev_hash)
    execute_tampered(audit.engine, "UPDATE audit_entry SET prev_hash = :h WHERE seq = 6", h=chained[4].prev_hash)
    report = _verify(audit, audit_key)
    assert (report.ok, report.first_bad_seq) == (False, 6)


def test_a_hundred_thousand_entries_walk_in_pages(engine: Engine, audit_key: bytes, tmp_path: Path) -> None:
    log = SqlAuditLog(engine, key=audit_key, checkpoint_file=tmp_path / "cp.jsonl", page_size=7_000)
    total = 100_000
    for start in range(0, total, 10_000):
        log.append_many([audit_record(i) for i in range(start, start + 10_000)])
    log.checkpoint(T0 + timedelta(days=1))
    report = _verify(log, audit_key)
    assert report.ok and report.entries == total
    assert sum(1 for _ in log.entries(from_seq=total - 6_999)) == 7_000
    if is_postgresql(engine):
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM audit_entry")).scalar() == total
