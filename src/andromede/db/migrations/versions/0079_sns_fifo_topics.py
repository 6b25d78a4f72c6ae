"""SNS FIFO topics (decision 0171): the deduplication keys of the last five minutes of each
FIFO topic, with the message each first published; the row's id is the message's sequence
number; and an index of ``notification_events`` by destination, so that a FIFO topic's
subscription's event is claimed only when no earlier one of it is leased or waiting. Nothing
is backfilled: no FIFO topic existed before.

Revision ID: 0079
Revises: 0078
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import UtcDateTime, big_id, key_text

revision: str = "0079"
down_revision: str | None = "0078"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ORDER_INDEX = "ix_notification_events_topic_arn_id"


def upgrade() -> None:
    op.create_index(_ORDER_INDEX, "notification_events", ["topic_arn", "id"])
    op.create_table(
        "topic_deduplications",
        sa.Column("id", big_id(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("topic_name", key_text(), nullable=False),
        sa.Column("dedup_key", sa.Text(), nullable=False),
        sa.Column("message_id", sa.Text(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_topic_deduplications"),
        sa.UniqueConstraint(
            "tenant_id",
            "topic_name",
            "dedup_key",
            name="uq_topic_deduplications_tenant_id_topic_name_dedup_key",
        ),
    )


def downgrade() -> None:
    # Five minutes of deduplication keys: nothing a tenant would miss but a duplicate's
    # answer, and the release before has no FIFO topic.
    op.drop_table("topic_deduplications")
    op.drop_index(_ORDER_INDEX, "notification_events")
