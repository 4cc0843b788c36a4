"""Group commit of audit appends: every caller gets its own committed entry, in one unbroken chain."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ennakoiva.domain.consent.audit import AuditRecord
from ennakoiva.platform.operational import open_operational
from ennakoiva.platform.platform import SerializedAuditLog
from ennakoiva.platform.settings import Settings


def _record(i: int) -> AuditRecord:
    return AuditRecord(at=datetime.now(UTC), actor_id=f"t{i}", role="nurse", service="health-services",
                       purpose_id="care-gap-identification", subject_id=1000 + i, categories=("health",),
                       decision="permit", reason="lawful_basis:public_task", policy_version="access-policy/1")


def test_concurrent_appends_form_one_chain(tmp_path: Path) -> None:
    settings = Settings(db_url=f"sqlite:///{tmp_path / 's.sqlite3'}", audit_key_file=tmp_path / "k",
                        audit_checkpoint_file=tmp_path / "c.jsonl", audit_checkpoint_every=25)
    with open_operational(settings) as ops:
        log = SerializedAuditLog(ops.audit)
        got: dict[int, int] = {}

        def work(i: int) -> None:
            got[i] = log.append(_record(i)).seq

        threads = [threading.Thread(target=work, args=(i,)) for i in range(120)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(got.values()) == list(range(1, 121))
        by_seq = {e.seq: e for e in ops.audit.entries()}
        assert all(by_seq[seq].actor_id == f"t{i}" for i, seq in got.items())
        assert ops.verify_audit().ok


def test_a_failed_commit_fails_every_caller_in_the_batch() -> None:
    class Broken:
        def append_many(self, records: list[AuditRecord]) -> list[object]:
            raise OSError("disk full")

    log = SerializedAuditLog(Broken())
    with pytest.raises(OSError, match="disk full"):
        log.append(_record(1))


def test_append_many_is_one_group_commit_in_order() -> None:
    calls: list[int] = []

    class Counting:
        def append_many(self, records: list[AuditRecord]) -> list[object]:
            calls.append(len(records))
            return [r.subject_id for r in records]

    log = SerializedAuditLog(Counting())
    assert log.append_many([_record(i) for i in range(5)]) == [1000, 1001, 1002, 1003, 1004]
    assert calls == [5]
    assert log.append_many([]) == []
