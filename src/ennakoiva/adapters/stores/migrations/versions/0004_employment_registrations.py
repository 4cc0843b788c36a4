"""Employment service 2.0: registrations, the suggestions made at once, the counsellor's decisions.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22

``employment_decision`` is append-only (the latest decision for a registration is in force, the
earlier ones stay as the record of what the counsellor chose and why), guarded like the audit tables
of revision 0001: an SQLite trigger, and on PostgreSQL the ``ennakoiva_append_only()`` function
revision 0001 created.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "employment_registration",
        sa.Column("registration_id", sa.String(36), nullable=False),
        sa.Column("person_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("background", _json(), nullable=False),
        sa.Column("categories", _json(), nullable=False),
        sa.Column("model_version", sa.String(32), nullable=False),
        sa.Column("cluster_id", sa.Integer(), nullable=False),
        sa.Column("top_service", sa.String(64), nullable=True),
        sa.Column("p_without", sa.Float(), nullable=False),
        sa.Column("result", _json(), nullable=False),
        sa.CheckConstraint("language IN ('fi', 'sv', 'en')", name="ck_employment_registration_language"),
        sa.PrimaryKeyConstraint("registration_id", name="pk_employment_registration"),
    )
    op.create_index("ix_employment_registration_person_id", "employment_registration", ["person_id"])
    op.create_index("ix_employment_registration_created_at", "employment_registration", ["created_at"])
    op.create_table(
        "employment_suggestion",
        sa.Column("registration_id", sa.String(36), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("service", sa.String(64), nullable=False),
        sa.Column("effect", sa.Float(), nullable=False),
        sa.Column("effect_low", sa.Float(), nullable=False),
        sa.Column("effect_high", sa.Float(), nullable=False),
        sa.Column("p_with", sa.Float(), nullable=False),
        sa.CheckConstraint("rank >= 1", name="ck_employment_suggestion_rank"),
        sa.ForeignKeyConstraint(["registration_id"], ["employment_registration.registration_id"],
                                name="fk_employment_suggestion_registration"),
        sa.PrimaryKeyConstraint("registration_id", "rank", name="pk_employment_suggestion"),
    )
    op.create_table(
        "employment_decision",
        sa.Column("decision_id", sa.String(36), nullable=False),
        sa.Column("registration_id", sa.String(36), nullable=False),
        sa.Column("counsellor_id", sa.String(128), nullable=False),
        sa.Column("service", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("top_suggestion", sa.String(64), nullable=True),
        sa.Column("followed_suggestion", sa.Boolean(), nullable=False),
        sa.Column("decided_at", _utc(), nullable=False),
        sa.ForeignKeyConstraint(["registration_id"], ["employment_registration.registration_id"],
                                name="fk_employment_decision_registration"),
        sa.PrimaryKeyConstraint("decision_id", name="pk_employment_decision"),
    )
    op.create_index("ix_employment_decision_registration_id", "employment_decision", ["registration_id"])
    if op.get_context().dialect.name == "postgresql":
        op.execute("CREATE TRIGGER employment_decision_append_only BEFORE UPDATE OR DELETE ON employment_decision "
                   "FOR EACH ROW EXECUTE FUNCTION ennakoiva_append_only()")
    else:
        for action in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER employment_decision_no_{action.lower()} BEFORE {action} ON "
                       "employment_decision BEGIN SELECT RAISE(ABORT, "
                       f"'ennakoiva: employment_decision is append-only ({action} refused)'); END")


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS employment_decision_append_only ON employment_decision")
    else:
        for action in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS employment_decision_no_{action}")
    op.drop_index("ix_employment_decision_registration_id", table_name="employment_decision")
    op.drop_table("employment_decision")
    op.drop_table("employment_suggestion")
    op.drop_index("ix_employment_registration_created_at", table_name="employment_registration")
    op.drop_index("ix_employment_registration_person_id", table_name="employment_registration")
    op.drop_table("employment_registration")
