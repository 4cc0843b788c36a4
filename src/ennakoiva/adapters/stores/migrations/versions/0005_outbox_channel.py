"""The outbox's channel: SMS, or the fallback letter batch (suomi.fi messages / printed letter).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22

A recipient without a phone, one whose SMS could not be delivered, and one who opted out of SMS
(STOP) are reached by the service definition's fallback channel. Their messages go through the same
outbox — the same idempotency key, the same exactly-once sender — drained to a letter-batch gateway
instead of the SMS gateway; ``channel`` tells the two senders apart. Existing rows are SMS.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("outbox_message", sa.Column("channel", sa.String(16), nullable=False, server_default="sms"))


def downgrade() -> None:
    with op.batch_alter_table("outbox_message") as batch:
        batch.drop_column("channel")
