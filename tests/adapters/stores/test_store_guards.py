"""Append-only guards in the database itself (reference test 36), on both engines.

Tests that simulate tampering go around these triggers deliberately (``store_support.guards_bypassed``).
"""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from store_support import (  # noqa: F401 - pytest fixtures
    T0,
    audit_fixture,
    audit_key_fixture,
    audit_record,
    consent,
    consents_fixture,
    engine_fixture,
    execute_tampered,
    guard_names,
    guards_bypassed,
    pg_engine_fixture,
    pg_url_fixture,
    store_url_fixture,
)

from ennakoiva.adapters.stores import SqlAuditLog, SqlConsentStore

REFUSED = r"(?i)append-only|never removed|only ever changes"


@pytest.fixture
def filled(engine: Engine, consents: SqlConsentStore, audit: SqlAuditLog) -> Engine:
    consents.add(*consent(101))
    audit.append_many([audit_record(i) for i in range(3)])
    audit.checkpoint(T0)
    return engine


@pytest.mark.parametrize("statement", [
    "UPDATE audit_entry SET reason = 'edited' WHERE seq = 2",
    "DELETE FROM audit_entry WHERE seq = 3",
    "UPDATE consent_event SET state = 'given'",
    "DELETE FROM consent_event",
    "UPDATE audit_checkpoint SET entry_hash = 'x'",
    "DELETE FROM audit_checkpoint",
    "DELETE FROM consent_record",
    "UPDATE consent_record SET purpose_version = 2",
    "UPDATE consent_record SET active_key = 'other|purpose'",
])
def test_the_application_cannot_update_or_delete_audit_and_consent_history(filled: Engine, statement: str) -> None:
    with pytest.raises(DBAPIError, match=REFUSED), filled.begin() as conn:
        conn.execute(text(statement))


def test_a_record_may_only_become_final_once(filled: Engine) -> None:
    with filled.begin() as conn:
        conn.execute(text("UPDATE consent_record SET active_key = NULL"))
    with pytest.raises(DBAPIError, match=REFUSED), filled.begin() as conn:
        conn.execute(text("UPDATE consent_record SET active_key = '101|daycare-fee-income-check'"))


def test_truncate_is_refused_on_postgresql(pg_engine: Engine) -> None:
    # SQLite has no TRUNCATE; the DELETE cases above cover it.
    SqlConsentStore(pg_engine).add(*consent(101))
    SqlAuditLog(pg_engine).append(audit_record(1))
    for table in ("audit_entry", "consent_event", "audit_checkpoint", "consent_record"):
        with pytest.raises(DBAPIError, match=REFUSED), pg_engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {table} CASCADE"))


def test_check_constraints_refuse_impossible_rows(filled: Engine) -> None:
    with pytest.raises(IntegrityError), filled.begin() as conn:
        conn.execute(text("INSERT INTO audit_entry (seq, at, actor_id, role, service, purpose_id, categories, "
                          "decision, reason, policy_version, request_id, prev_hash, hash) VALUES (0, :at, 'a', 'r', "
                          "'s', 'p', '[]', 'maybe', 'x', 'v', '', :h, :h)"), {"at": T0, "h": "0" * 64})


def test_tampering_helper_goes_around_the_guards_and_restores_them(filled: Engine) -> None:
    before = guard_names(filled)
    assert len(before) >= 4
    assert execute_tampered(filled, "UPDATE audit_entry SET reason = 'edited' WHERE seq = 2") == 1
    assert guard_names(filled) == before
    with pytest.raises(DBAPIError, match=REFUSED), filled.begin() as conn:
        conn.execute(text("DELETE FROM audit_entry"))
    with guards_bypassed(filled) as conn:
        assert conn.execute(text("SELECT reason FROM audit_entry WHERE seq = 2")).scalar() == "edited"
