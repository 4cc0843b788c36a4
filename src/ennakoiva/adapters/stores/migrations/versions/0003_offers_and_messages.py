"""Proactive offers and messaging: campaigns, offers, recipients, transitions, outbox, reports, replies.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22

Exactly-once and dedup live in unique keys, so that they hold even when two processes race:

- ``outbox_message.idempotency_key`` (offer|kind|recipient|attempt): a re-run of a campaign never
  queues a message twice; the sender passes the key to the provider as the client reference.
- ``delivery_report`` (provider, provider_message_id, status) and ``inbound_reply`` (provider,
  provider_message_id): a webhook the provider retries is stored, and acted on, once.
- ``offer (campaign_id, subject_id)`` and ``campaign.campaign_key``: one offer per subject per run.

``offer_transition``, ``delivery_report`` and ``inbound_reply`` are append-only, with the same guards
as the audit tables of revision 0001 (PostgreSQL reuses its ``ennakoiva_append_only()`` function).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = ("offer_transition", "delivery_report", "inbound_reply")
OUTBOX_STATES = ("queued", "sending", "sent", "failed")


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.create_table(
        "campaign",
        sa.Column("campaign_id", sa.String(36), nullable=False),
        sa.Column("campaign_key", sa.String(200), nullable=False),
        sa.Column("service_id", sa.String(128), nullable=False),
        sa.Column("service_version", sa.String(64), nullable=False),
        sa.Column("run_on", sa.String(10), nullable=False),
        sa.Column("actor_id", sa.String(128), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("campaign_id", name="pk_campaign"),
        sa.UniqueConstraint("campaign_key", name="uq_campaign_campaign_key"),
    )
    op.create_table(
        "offer",
        sa.Column("offer_id", sa.String(36), nullable=False),
        sa.Column("campaign_id", sa.String(36), nullable=False),
        sa.Column("service_id", sa.String(128), nullable=False),
        sa.Column("subject_id", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("district", sa.String(16), nullable=True),
        sa.Column("fields", _json(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.Column("deadline_at", _utc(), nullable=True),
        sa.Column("delivered_at", _utc(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("offer_id", name="pk_offer"),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaign.campaign_id"], name="fk_offer_campaign_id_campaign"),
        sa.UniqueConstraint("campaign_id", "subject_id", name="uq_offer_campaign_id_subject_id"),
        sa.CheckConstraint(_in("language", ("fi", "sv", "en")), name="ck_offer_language"),
    )
    op.create_index("ix_offer_state", "offer", ["state"])
    op.create_table(
        "offer_recipient",
        sa.Column("offer_id", sa.String(36), nullable=False),
        sa.Column("person_id", sa.BigInteger(), nullable=False, autoincrement=False),
        sa.Column("phone", sa.String(32), nullable=False),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("answer", sa.String(16), nullable=True),
        sa.Column("answered_at", _utc(), nullable=True),
        sa.Column("opted_out_at", _utc(), nullable=True),
        sa.PrimaryKeyConstraint("offer_id", "person_id", name="pk_offer_recipient"),
        sa.ForeignKeyConstraint(["offer_id"], ["offer.offer_id"], name="fk_offer_recipient_offer_id_offer"),
    )
    op.create_index("ix_offer_recipient_phone", "offer_recipient", ["phone"])
    op.create_table(
        "offer_transition",
        sa.Column("offer_id", sa.String(36), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("from_state", sa.String(32), nullable=True),
        sa.Column("to_state", sa.String(32), nullable=False),
        sa.Column("at", _utc(), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("cause", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("offer_id", "seq", name="pk_offer_transition"),
        sa.ForeignKeyConstraint(["offer_id"], ["offer.offer_id"], name="fk_offer_transition_offer_id_offer"),
        sa.CheckConstraint("seq >= 1", name="ck_offer_transition_seq"),
    )
    op.create_table(
        "outbox_message",
        sa.Column("message_id", sa.String(36), nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=False),
        sa.Column("offer_id", sa.String(36), nullable=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("recipient_id", sa.BigInteger(), nullable=True),
        sa.Column("phone", sa.String(32), nullable=False),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("encoding", sa.String(8), nullable=False),
        sa.Column("segments", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("claimed_until", _utc(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("sent_at", _utc(), nullable=True),
        sa.Column("provider", sa.String(32), nullable=True),
        sa.Column("provider_message_id", sa.String(128), nullable=True),
        sa.Column("delivery_status", sa.String(16), nullable=True),
        sa.Column("delivered_at", _utc(), nullable=True),
        sa.Column("error", sa.String(256), nullable=True),
        sa.PrimaryKeyConstraint("message_id", name="pk_outbox_message"),
        sa.ForeignKeyConstraint(["offer_id"], ["offer.offer_id"], name="fk_outbox_message_offer_id_offer"),
        sa.UniqueConstraint("idempotency_key", name="uq_outbox_message_idempotency_key"),
        sa.CheckConstraint(_in("status", OUTBOX_STATES), name="ck_outbox_message_status"),
        sa.CheckConstraint("segments >= 1", name="ck_outbox_message_segments"),
    )
    op.create_index("ix_outbox_message_offer_id", "outbox_message", ["offer_id"])
    op.create_index("ix_outbox_message_provider_message_id", "outbox_message", ["provider_message_id"])
    op.create_index("ix_outbox_message_status_created_at", "outbox_message", ["status", "created_at"])
    op.create_table(
        "delivery_report",
        sa.Column("report_id", sa.String(36), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("provider_message_id", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reported_at", _utc(), nullable=False),
        sa.Column("received_at", _utc(), nullable=False),
        sa.Column("message_id", sa.String(36), nullable=True),
        sa.PrimaryKeyConstraint("report_id", name="pk_delivery_report"),
        sa.UniqueConstraint("provider", "provider_message_id", "status",
                            name="uq_delivery_report_provider_provider_message_id_status"),
    )
    op.create_table(
        "inbound_reply",
        sa.Column("inbound_id", sa.String(36), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("provider_message_id", sa.String(128), nullable=False),
        sa.Column("from_phone", sa.String(32), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("sent_at", _utc(), nullable=False),
        sa.Column("received_at", _utc(), nullable=False),
        sa.Column("offer_id", sa.String(36), nullable=True),
        sa.Column("choice", sa.String(16), nullable=True),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("inbound_id", name="pk_inbound_reply"),
        sa.UniqueConstraint("provider", "provider_message_id", name="uq_inbound_reply_provider_provider_message_id"),
    )
    op.create_index("ix_inbound_reply_offer_id", "inbound_reply", ["offer_id"])
    if op.get_bind().dialect.name == "postgresql":
        for table in APPEND_ONLY:
            op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                       "FOR EACH ROW EXECUTE FUNCTION ennakoiva_append_only()")
            op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                       "FOR EACH STATEMENT EXECUTE FUNCTION ennakoiva_append_only()")
    else:
        for table in APPEND_ONLY:
            for verb in ("UPDATE", "DELETE"):
                op.execute(f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                           f"BEGIN SELECT RAISE(ABORT, 'ennakoiva: {table} is append-only ({verb} refused)'); END")


def downgrade() -> None:
    # Dropping a table drops its triggers on both engines.
    for table in ("inbound_reply", "delivery_report", "outbox_message", "offer_transition", "offer_recipient",
                  "offer", "campaign"):
        op.drop_table(table)
