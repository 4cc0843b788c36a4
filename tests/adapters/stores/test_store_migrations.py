"""Migrations: an empty database reaches head on both engines and matches the declared schema."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from store_support import consent, store_url_fixture  # noqa: F401 - pytest fixtures

from ennakoiva.adapters.stores import create_engine, current_revision, head_revision, upgrade
from ennakoiva.adapters.stores.consent_repository import EVENT, RECORD, SqlConsentStore, event_row, record_row
from ennakoiva.adapters.stores.database import normalise_url
from ennakoiva.adapters.stores.migrate import MIGRATIONS, downgrade, sql_script
from ennakoiva.adapters.stores.schema import metadata

TABLES = {
    "consent_record", "consent_event", "consent_person", "audit_entry", "audit_checkpoint",  # 0001, 0002
    "campaign", "offer", "offer_recipient", "offer_transition", "outbox_message", "delivery_report",  # 0003
    "inbound_reply",
    "employment_registration", "employment_suggestion", "employment_decision",  # 0004
    "alembic_version",
}
HEAD = "0005"  # 0005_outbox_channel adds a column, no table


def test_upgrade_from_empty_to_head_matches_the_declared_schema(store_url: str) -> None:
    engine = create_engine(store_url)
    try:
        assert current_revision(engine) is None
        upgrade(store_url)
        assert current_revision(engine) == head_revision() == HEAD
        assert set(inspect(engine).get_table_names()) == TABLES
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
        assert diff == []
        upgrade(store_url)  # already at head: a no-op
        assert current_revision(engine) == HEAD
    finally:
        engine.dispose()


def test_downgrade_to_base_and_back(store_url: str) -> None:
    engine = create_engine(store_url)
    try:
        upgrade(engine)
        downgrade(engine, "base")
        assert set(inspect(engine).get_table_names()) == {"alembic_version"}
        upgrade(engine)
        assert set(inspect(engine).get_table_names()) == TABLES
    finally:
        engine.dispose()


def test_migrations_ship_inside_the_package() -> None:
    assert (MIGRATIONS / "env.py").is_file()
    assert (MIGRATIONS / "script.py.mako").is_file()
    assert any(MIGRATIONS.glob("versions/0001_*.py"))


def test_offline_sql_for_a_dba_to_review() -> None:
    pg = sql_script("postgresql+psycopg://u@h/db")
    assert "CREATE TABLE consent_record" in pg and "CREATE TRIGGER audit_entry_append_only" in pg
    lite = sql_script("sqlite:///x.sqlite3")
    assert "RAISE(ABORT" in lite


def test_sqlite_connections_use_wal_foreign_keys_and_a_busy_timeout(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path}/sub/dir/s.sqlite3")  # folders are created
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
    finally:
        engine.dispose()


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "mysql://u@h/db", "postgresql+psycopg2://u@h/d"])
def test_unsupported_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match=r"SQLite store must be a file|unsupported store URL|psycopg 3"):
        create_engine(url)


def test_plain_postgresql_urls_mean_psycopg3() -> None:
    assert normalise_url("postgres://u@h/db").drivername == "postgresql+psycopg"


def test_0002_back_fills_the_people_of_existing_consents(store_url: str) -> None:
    engine = create_engine(store_url)
    try:
        upgrade(engine, "0001")
        record, first = consent(4321)
        with engine.begin() as conn:  # a record written by the 0001 schema, before consent_person existed
            conn.execute(RECORD.insert(), record_row(record, active=True))
            conn.execute(EVENT.insert(), event_row(first))
        upgrade(engine)
        assert [r.subject_id for r, _ in SqlConsentStore(engine).for_person(4321)] == [4321]
    finally:
        engine.dispose()
