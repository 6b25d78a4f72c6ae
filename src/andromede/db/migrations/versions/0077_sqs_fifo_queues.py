"""SQS FIFO queues (decision 0164): a message's group digest, and the deduplication keys and
receive attempts of the last five minutes. Nothing is backfilled: every message before is a
standard queue's (no group).

Revision ID: 0077
Revises: 0076
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import UtcDateTime, key_text

revision: str = "0077"
down_revision: str | None = "0076"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_GROUP_INDEX = "ix_queue_messages_tenant_id_queue_name_group_key_id"


def upgrade() -> None:
    with op.batch_alter_table("queue_messages") as batch:
        batch.add_column(sa.Column("group_key", sa.Text(), nullable=True))
    op.create_index(_GROUP_INDEX, "queue_messages", ["tenant_id", "queue_name", "group_key", "id"])
    op.create_table(
        "queue_deduplications",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("queue_name", key_text(), nullable=False),
        sa.Column("dedup_key", sa.Text(), nullable=False),
        sa.Column("message_id", sa.Text(), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "queue_name", "dedup_key", name="pk_queue_deduplications"
        ),
    )
    op.create_table(
        "queue_receive_attempts",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("queue_name", key_text(), nullable=False),
        sa.Column("attempt_key", sa.Text(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "queue_name", "attempt_key", name="pk_queue_receive_attempts"
        ),
    )


def downgrade() -> None:
    # A FIFO queue's messages are tenants' data, and the release before would receive them
    # out of order: refused while any is held (its owner purges first).
    bind = op.get_bind()
    held = bind.execute(
        sa.text("SELECT COUNT(*) FROM queue_messages WHERE group_key IS NOT NULL")
    ).scalar()
    if held:
        raise RuntimeError("queue_messages holds FIFO messages: the downgrade would lose them")
    op.drop_table("queue_receive_attempts")
    op.drop_table("queue_deduplications")
    op.drop_index(_GROUP_INDEX, "queue_messages")
    with op.batch_alter_table("queue_messages") as batch:
        batch.drop_column("group_key")
