"""SQS-style queues and their sealed messages (decision 0158). Nothing is backfilled: no
queue existed before.

Revision ID: 0071
Revises: 0070
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import UtcDateTime, big_id, key_text

revision: str = "0071"
down_revision: str | None = "0070"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "queues",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("name", key_text(), nullable=False),
        sa.Column("region", sa.Text(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("modified_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "name", name="pk_queues"),
    )
    op.create_table(
        "queue_messages",
        sa.Column("id", big_id(), autoincrement=True, nullable=False),
        sa.Column("message_id", key_text(), nullable=False),
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("queue_name", key_text(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.Column("sent_at", UtcDateTime(), nullable=False),
        sa.Column("visible_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("receive_count", sa.Integer(), nullable=False),
        sa.Column("first_received_at", UtcDateTime(), nullable=True),
        sa.Column("receipt", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_queue_messages"),
        sa.UniqueConstraint("message_id", name="uq_queue_messages_message_id"),
    )
    op.create_index(
        "ix_queue_messages_tenant_id_queue_name_visible_at",
        "queue_messages",
        ["tenant_id", "queue_name", "visible_at"],
    )


def downgrade() -> None:
    # Messages are tenants' data: refused while a queue holds any (its owner purges first).
    bind = op.get_bind()
    held = bind.execute(sa.text("SELECT COUNT(*) FROM queue_messages")).scalar()
    if held:
        raise RuntimeError("queue_messages holds messages: the downgrade would lose them")
    op.drop_index("ix_queue_messages_tenant_id_queue_name_visible_at", "queue_messages")
    op.drop_table("queue_messages")
    op.drop_table("queues")
