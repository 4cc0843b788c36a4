"""Who a consent concerns: an index of subject, required parties and covered people per record.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22

A guardian looking at "my consents" must find the consent recorded for their child, and a person
whose income a household consent covers must see it too. The people live in JSON arrays in
``consent_record``; this table indexes them (derived data, filled when a record is added and
back-filled here for records that already exist).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "consent_person",
        sa.Column("record_id", sa.String(36), nullable=False),
        sa.Column("person_id", sa.BigInteger(), nullable=False),
        sa.Column("relation", sa.String(16), nullable=False),
        sa.CheckConstraint("relation IN ('subject', 'party', 'covered')", name="ck_consent_person_relation"),
        sa.ForeignKeyConstraint(["record_id"], ["consent_record.record_id"],
                                name="fk_consent_person_record_id_consent_record"),
        sa.PrimaryKeyConstraint("record_id", "person_id", "relation", name="pk_consent_person"),
    )
    op.create_index("ix_consent_person_person_id", "consent_person", ["person_id"])
    if context.is_offline_mode():  # a DBA's review script: the back-fill runs only against a live database
        return
    bind = op.get_bind()
    record = sa.table("consent_record", sa.column("record_id", sa.String), sa.column("subject_id", sa.BigInteger),
                      sa.column("required_parties", sa.JSON), sa.column("covered_subjects", sa.JSON))
    person = sa.table("consent_person", sa.column("record_id", sa.String), sa.column("person_id", sa.BigInteger),
                      sa.column("relation", sa.String))
    rows = []
    for r in bind.execute(sa.select(record)).mappings():
        rows += person_rows(r["record_id"], r["subject_id"], r["required_parties"] or [], r["covered_subjects"] or [])
    if rows:
        op.bulk_insert(person, rows)


def person_rows(record_id: str, subject_id: int, parties: Sequence[int], covered: Sequence[int],
                ) -> list[dict[str, object]]:
    """One row per (person, relation) of a record."""
    found = {(subject_id, "subject")} | {(int(p), "party") for p in parties} | {(int(c), "covered") for c in covered}
    return [{"record_id": record_id, "person_id": pid, "relation": rel} for pid, rel in sorted(found)]


def downgrade() -> None:
    op.drop_index("ix_consent_person_person_id", table_name="consent_person")
    op.drop_table("consent_person")
