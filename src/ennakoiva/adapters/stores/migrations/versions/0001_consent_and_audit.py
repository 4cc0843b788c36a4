"""Consent records and events, the audit log and its checkpoints; append-only guards.

Revision ID: 0001
Revises:
Create Date: 2025-11-22

The append-only guards are triggers, on both engines:

- PostgreSQL: ``consent_event``, ``audit_entry`` and ``audit_checkpoint`` refuse UPDATE, DELETE and
  TRUNCATE for every role the application uses (reference test 36). ``consent_record`` may only have
  its ``active_key`` cleared (a record becoming final); nothing else in it changes and it is never
  deleted.
- SQLite: the same rules as ``RAISE(ABORT)`` triggers (SQLite has no TRUNCATE).

Tests that simulate tampering must go around the guards on purpose (drop or disable the trigger
first); the hash chain and the external checkpoint file are what detect such edits.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = ("consent_event", "audit_entry", "audit_checkpoint")
CONSENT_STATES = ("requested", "given", "renewed", "refused", "withdrawn", "expired", "invalidated")
# Every consent_record column except active_key: frozen once written.
RECORD_FROZEN = ("record_id", "schema_version", "subject_id", "covered_subjects", "purpose_id", "purpose_version",
                 "notice_version", "notice_sha256", "language", "controller_id", "legal_basis", "data_categories",
                 "required_parties", "withdrawal_method", "jurisdiction", "created_at", "valid_until")


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _seq_key() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.create_table(
        "consent_record",
        sa.Column("record_id", sa.String(36), nullable=False),
        sa.Column("schema_version", sa.String(64), nullable=False),
        sa.Column("subject_id", sa.BigInteger(), nullable=False),
        sa.Column("covered_subjects", _json(), nullable=False),
        sa.Column("purpose_id", sa.String(128), nullable=False),
        sa.Column("purpose_version", sa.Integer(), nullable=False),
        sa.Column("notice_version", sa.Integer(), nullable=False),
        sa.Column("notice_sha256", sa.String(64), nullable=False),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("controller_id", sa.String(128), nullable=False),
        sa.Column("legal_basis", sa.String(64), nullable=False),
        sa.Column("data_categories", _json(), nullable=False),
        sa.Column("required_parties", _json(), nullable=False),
        sa.Column("withdrawal_method", sa.String(512), nullable=False),
        sa.Column("jurisdiction", sa.String(8), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("valid_until", _utc(), nullable=False),
        sa.Column("active_key", sa.String(160), nullable=True),
        sa.PrimaryKeyConstraint("record_id", name="pk_consent_record"),
        sa.UniqueConstraint("active_key", name="uq_consent_record_active_key"),
        sa.CheckConstraint(_in("language", ("fi", "sv", "en")), name="ck_consent_record_language"),
        sa.CheckConstraint("length(notice_sha256) = 64", name="ck_consent_record_notice_sha256"),
        sa.CheckConstraint("purpose_version >= 1 AND notice_version >= 1", name="ck_consent_record_versions"),
    )
    op.create_index("ix_consent_record_subject_id_purpose_id", "consent_record", ["subject_id", "purpose_id"])

    op.create_table(
        "consent_event",
        sa.Column("record_id", sa.String(36), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("party_id", sa.BigInteger(), nullable=False),
        sa.Column("party_role", sa.String(32), nullable=False),
        sa.Column("auth_method", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("at", _utc(), nullable=False),
        sa.Column("valid_until", _utc(), nullable=True),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("record_id", "seq", name="pk_consent_event"),
        sa.ForeignKeyConstraint(["record_id"], ["consent_record.record_id"],
                                name="fk_consent_event_record_id_consent_record"),
        sa.CheckConstraint("seq >= 1", name="ck_consent_event_seq"),
        sa.CheckConstraint(_in("state", CONSENT_STATES), name="ck_consent_event_state"),
    )

    op.create_table(
        "audit_entry",
        sa.Column("seq", _seq_key(), nullable=False, autoincrement=False),
        sa.Column("at", _utc(), nullable=False),
        sa.Column("actor_id", sa.String(128), nullable=False),
        sa.Column("role", sa.String(64), nullable=False),
        sa.Column("service", sa.String(128), nullable=False),
        sa.Column("purpose_id", sa.String(128), nullable=False),
        sa.Column("subject_id", sa.BigInteger(), nullable=True),
        sa.Column("categories", _json(), nullable=False),
        sa.Column("decision", sa.String(8), nullable=False),
        sa.Column("reason", sa.String(128), nullable=False),
        sa.Column("policy_version", sa.String(64), nullable=False),
        sa.Column("consent_record_id", sa.String(36), nullable=True),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_audit_entry"),
        sa.CheckConstraint("seq >= 1", name="ck_audit_entry_seq"),
        sa.CheckConstraint(_in("decision", ("permit", "deny")), name="ck_audit_entry_decision"),
    )
    op.create_index("ix_audit_entry_subject_id", "audit_entry", ["subject_id"])

    op.create_table(
        "audit_checkpoint",
        sa.Column("seq", _seq_key(), nullable=False, autoincrement=False),
        sa.Column("entry_hash", sa.String(64), nullable=False),
        sa.Column("at", _utc(), nullable=False),
        sa.Column("signature", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_audit_checkpoint"),
    )

    if op.get_bind().dialect.name == "postgresql":
        _postgresql_guards()
    else:
        _sqlite_guards()


def _postgresql_guards() -> None:
    op.execute("""
        CREATE FUNCTION ennakoiva_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'ennakoiva: % is append-only (% refused)', TG_TABLE_NAME, TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END $$
    """)
    for table in APPEND_ONLY:
        op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                   "FOR EACH ROW EXECUTE FUNCTION ennakoiva_append_only()")
        op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                   "FOR EACH STATEMENT EXECUTE FUNCTION ennakoiva_append_only()")
    op.execute("""
        CREATE FUNCTION ennakoiva_consent_record_guard() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP <> 'UPDATE' THEN
                RAISE EXCEPTION 'ennakoiva: consent_record rows are never removed (% refused)', TG_OP
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            IF OLD.active_key IS NULL OR NEW.active_key IS NOT NULL
               OR (to_jsonb(NEW) - 'active_key') IS DISTINCT FROM (to_jsonb(OLD) - 'active_key') THEN
                RAISE EXCEPTION 'ennakoiva: a consent_record only ever changes by becoming final'
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            RETURN NEW;
        END $$
    """)
    op.execute("CREATE TRIGGER consent_record_guard BEFORE UPDATE OR DELETE ON consent_record "
               "FOR EACH ROW EXECUTE FUNCTION ennakoiva_consent_record_guard()")
    op.execute("CREATE TRIGGER consent_record_no_truncate BEFORE TRUNCATE ON consent_record "
               "FOR EACH STATEMENT EXECUTE FUNCTION ennakoiva_append_only()")


def _sqlite_guards() -> None:
    for table in APPEND_ONLY:
        for verb in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                       f"BEGIN SELECT RAISE(ABORT, 'ennakoiva: {table} is append-only ({verb} refused)'); END")
    changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in RECORD_FROZEN)
    op.execute("CREATE TRIGGER consent_record_guard BEFORE UPDATE ON consent_record "
               f"WHEN OLD.active_key IS NULL OR NEW.active_key IS NOT NULL OR {changed} "
               "BEGIN SELECT RAISE(ABORT, 'ennakoiva: a consent_record only ever changes by becoming final'); END")
    op.execute("CREATE TRIGGER consent_record_no_delete BEFORE DELETE ON consent_record "
               "BEGIN SELECT RAISE(ABORT, 'ennakoiva: consent_record rows are never removed (DELETE refused)'); END")


def downgrade() -> None:
    # Dropping the tables drops their triggers on both engines.
    for table in ("audit_checkpoint", "audit_entry", "consent_event", "consent_record"):
        op.drop_table(table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION ennakoiva_consent_record_guard()")
        op.execute("DROP FUNCTION ennakoiva_append_only()")
