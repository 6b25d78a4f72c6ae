"""Bucket event notifications (decision 0132): tenants' SNS-style topics and the durable queue
of events waiting to be pushed, written in the transaction that commits the version or the
delete they tell of. A bucket's notification configuration is a row of ``bucket_documents``
(kind ``notification``), which needs no schema change.

Revision ID: 0054
Revises: 0053
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import UtcDateTime, big_id, key_text

revision: str = "0054"
down_revision: str | None = "0053"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notification_topics",
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("name", key_text(), nullable=False),
        sa.Column("region", sa.Text(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "name", name="pk_notification_topics"),
    )
    op.create_table(
        "notification_events",
        sa.Column("id", big_id(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("topic_arn", sa.Text(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("not_before", UtcDateTime(), nullable=False),
        sa.Column("lease_until", UtcDateTime(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_notification_events"),
    )
    op.create_index("ix_notification_events_not_before", "notification_events", ["not_before"])
    op.create_index("ix_notification_events_tenant_id", "notification_events", ["tenant_id"])


def downgrade() -> None:
    op.drop_index("ix_notification_events_tenant_id", table_name="notification_events")
    op.drop_index("ix_notification_events_not_before", table_name="notification_events")
    op.drop_table("notification_events")
    op.drop_table("notification_topics")
