"""Parallel verification of a long audit log finds the first bad entry in any range."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from ennakoiva.adapters.stores import SqlAuditLog, create_engine, upgrade
from ennakoiva.domain.consent.audit import AuditRecord
from ennakoiva.platform import audit_verification
from ennakoiva.platform.audit_verification import verify_audit
from ennakoiva.platform.settings import Settings

T0 = datetime(2026, 5, 1, tzinfo=UTC)


def _record(i: int) -> AuditRecord:
    return AuditRecord(at=T0 + timedelta(seconds=i), actor_id="nurse-1", role="nurse", service="health-services",
                       purpose_id="care-gap-identification", subject_id=1000 + i % 7, categories=("health",),
                       decision="permit", reason="lawful_basis:public_task", policy_version="access-policy/1")


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    url = (f"sqlite:///{tmp_path / 'store.sqlite3'}" if request.param == "sqlite"
           else request.getfixturevalue("postgresql_schema_url"))
    upgrade(url)
    return Settings(db_url=url, audit_key_file=tmp_path / "audit.key",
                    audit_checkpoint_file=tmp_path / "checkpoints.jsonl")


def _tamper(url: str, sql: str) -> None:
    """Go around the append-only triggers on purpose, as an attacker with schema rights would."""
    engine = create_engine(url)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("ALTER TABLE audit_entry DISABLE TRIGGER USER")
            conn.execute(text(sql))
            conn.exec_driver_sql("ALTER TABLE audit_entry ENABLE TRIGGER USER")
        else:
            names = [r[0] for r in conn.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_entry'")]
            for name in names:
                conn.exec_driver_sql(f'DROP TRIGGER "{name}"')
            conn.execute(text(sql))
    engine.dispose()


def _fill(settings: Settings, n: int) -> None:
    engine = create_engine(settings.db_url)
    audit = SqlAuditLog(engine, key=settings.audit_key(), checkpoint_file=settings.audit_checkpoint_file)
    audit.append_many([_record(i) for i in range(1, n + 1)])
    audit.checkpoint(T0 + timedelta(days=1))
    engine.dispose()


def test_parallel_ranges_agree_and_name_the_first_bad_entry(settings: Settings,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audit_verification, "MIN_ENTRIES_PER_WORKER", 100)
    _fill(settings, 400)
    whole = verify_audit(settings, workers=1)
    parallel = verify_audit(settings, workers=3)
    assert whole.ok and parallel.ok and whole.entries == parallel.entries == 400
    assert whole.last_hash == parallel.last_hash
    _tamper(settings.db_url, "UPDATE audit_entry SET reason = 'x' WHERE seq = 290")
    report = verify_audit(settings, workers=3)
    assert (report.ok, report.first_bad_seq) == (False, 290)


def test_a_deleted_range_boundary_and_a_truncated_tail_are_caught(settings: Settings,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audit_verification, "MIN_ENTRIES_PER_WORKER", 100)
    _fill(settings, 300)
    _tamper(settings.db_url, "DELETE FROM audit_entry WHERE seq = 150")   # the end of the first of two ranges
    report = verify_audit(settings, workers=2)
    assert (report.ok, report.first_bad_seq) == (False, 150)


def test_truncation_is_caught_by_the_external_checkpoint(settings: Settings,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audit_verification, "MIN_ENTRIES_PER_WORKER", 100)
    _fill(settings, 300)
    _tamper(settings.db_url, "DELETE FROM audit_entry WHERE seq > 250")
    report = verify_audit(settings, workers=2)
    assert not report.ok and report.first_bad_seq == 251 and "truncated" in (report.problem or "")
