"""Helpers and fixtures for the store tests: fresh databases on both engines, records, deliberate tampering.

Every store test runs on SQLite (a temporary file) and on PostgreSQL: the machine's server, database
``test`` (``.ci/run`` starts it). Each test gets its own schema there, so parallel xdist workers never
see each other's tables. If the server is down the PostgreSQL variants fail — they are never
skipped. Test modules import the fixtures they use from here (a second ``conftest.py`` would clash
with the root one under ``--doctest-modules``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import pytest
from sqlalchemy import Connection, Engine, text

from ennakoiva.adapters.stores import SqlAuditLog, SqlConsentStore, sqlite_url, upgrade
from ennakoiva.adapters.stores.database import create_engine, is_postgresql, normalise_url
from ennakoiva.domain.consent.audit import AuditRecord
from ennakoiva.domain.consent.purposes import Purpose, default_purposes
from ennakoiva.domain.consent.records import ConsentEvent, ConsentRecord, Party, new_record

# The machine's PostgreSQL (trust auth); each test gets its own schema in database `test`.
PG_URL = "postgresql+psycopg://postgres@localhost/test"
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
CONSENT_PURPOSE = "daycare-fee-income-check"


def pg_schema_url(schema: str) -> str:
    """The test database with ``schema`` first on the search path (libpq ``options``)."""
    return f"{PG_URL}?options=-csearch_path%3D{schema}"


@contextmanager
def fresh_postgresql_schema() -> Iterator[str]:
    """Create a uniquely named schema (safe for parallel xdist workers), yield its URL, drop it.

    An unreachable server is an error here, never a skip: CI must exercise PostgreSQL.
    """
    schema = f"t_{uuid4().hex[:20]}"
    admin = create_engine(PG_URL)
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        yield pg_schema_url(schema)
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()


def purpose(purpose_id: str = CONSENT_PURPOSE) -> Purpose:
    return default_purposes()[purpose_id]


def self_party(person_id: int) -> Party:
    return Party(person_id=person_id, role="self", auth_method="suomi.fi-strong", channel="web")


def consent(subject_id: int, *, at: datetime = T0, purpose_id: str = CONSENT_PURPOSE,
            ) -> tuple[ConsentRecord, ConsentEvent]:
    """A record given by the subject themselves (the only required party) at ``at``."""
    return new_record(purpose(purpose_id), subject_id, self_party(subject_id), at=at, language="fi")


def audit_record(i: int, *, subject_id: int | None = None, at: datetime | None = None,
                 decision: str = "permit", purpose_id: str = CONSENT_PURPOSE) -> AuditRecord:
    return AuditRecord(
        at=at or T0 + timedelta(seconds=i), actor_id=f"caseworker-{i % 7}", role="fee-officer",
        service="early-childhood-education", purpose_id=purpose_id,
        subject_id=subject_id if subject_id is not None else 1000 + i % 50, categories=("income", "family"),
        decision=decision, reason="consent_active" if decision == "permit" else "no_consent",
        policy_version="access-policy/1", consent_record_id=None, request_id=f"req-{i}")


def _sqlite_guards(conn: Connection) -> list[tuple[str, str]]:
    rows = conn.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'").all()
    return [(r[0], r[1]) for r in rows]


@contextmanager
def guards_bypassed(engine: Engine) -> Iterator[Connection]:
    """A transaction in which the append-only triggers are off — *only* to simulate an attacker.

    The triggers protect against the application (and a careless operator); whoever can change the
    schema can switch them off, which is why the hash chain and the external signed checkpoints
    exist. Tampering tests go around the triggers here, on purpose, and put them back afterwards.
    """
    with engine.begin() as conn:
        if is_postgresql(engine):
            tables = ("consent_record", "consent_event", "audit_entry", "audit_checkpoint")
            for table in tables:
                conn.exec_driver_sql(f"ALTER TABLE {table} DISABLE TRIGGER USER")
            yield conn
            for table in tables:
                conn.exec_driver_sql(f"ALTER TABLE {table} ENABLE TRIGGER USER")
        else:
            guards = _sqlite_guards(conn)
            for name, _ in guards:
                conn.exec_driver_sql(f'DROP TRIGGER "{name}"')
            yield conn
            for _, sql in guards:
                conn.exec_driver_sql(sql)


def execute_tampered(engine: Engine, sql: str, **params: object) -> int:
    """Run one statement with the guards bypassed; returns the affected row count."""
    with guards_bypassed(engine) as conn:
        return conn.execute(text(sql), params).rowcount


def guard_names(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        if is_postgresql(engine):
            rows = conn.exec_driver_sql(
                "SELECT tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "WHERE NOT t.tgisinternal AND c.relnamespace = current_schema()::regnamespace").all()
            return {r[0] for r in rows}
        return {name for name, _ in _sqlite_guards(conn)}


def backend(url: str) -> str:
    return normalise_url(url).get_backend_name()


# -- fixtures ------------------------------------------------------------------------------------

@pytest.fixture(name="store_url", params=["sqlite", "postgresql"])
def store_url_fixture(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty store (nothing migrated yet)."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path / "store.sqlite3")
    else:
        with fresh_postgresql_schema() as url:
            yield url


@pytest.fixture(name="pg_url")
def pg_url_fixture() -> Iterator[str]:
    """An empty PostgreSQL schema, for the tests that are about PostgreSQL's own concurrency."""
    with fresh_postgresql_schema() as url:
        yield url


def _migrated(url: str) -> Iterator[Engine]:
    upgrade(url)
    engine = create_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture(name="engine")
def engine_fixture(store_url: str) -> Iterator[Engine]:
    """A store migrated to head, on each engine in turn."""
    yield from _migrated(store_url)


@pytest.fixture(name="pg_engine")
def pg_engine_fixture(pg_url: str) -> Iterator[Engine]:
    yield from _migrated(pg_url)


@pytest.fixture(name="consents")
def consents_fixture(engine: Engine) -> SqlConsentStore:
    return SqlConsentStore(engine)


@pytest.fixture(name="audit_key")
def audit_key_fixture() -> bytes:
    return bytes(range(32))


@pytest.fixture(name="audit")
def audit_fixture(engine: Engine, tmp_path: Path, audit_key: bytes) -> SqlAuditLog:
    return SqlAuditLog(engine, key=audit_key, checkpoint_file=tmp_path / "checkpoints.jsonl")
