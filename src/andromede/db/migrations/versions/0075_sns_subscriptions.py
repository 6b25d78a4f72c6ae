"""SNS subscriptions and the region's SNS signing key (decision 0163). Nothing is
backfilled: no subscription existed before.

Revision ID: 0075
Revises: 0074
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import UtcDateTime, key_text

revision: str = "0075"
down_revision: str | None = "0074"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notification_subscriptions",
        sa.Column("arn", key_text(), nullable=False),
        sa.Column("topic_arn", key_text(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("owner", key_text(), nullable=False),
        sa.Column("protocol", sa.Text(), nullable=False),
        sa.Column("endpoint", sa.Text(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("arn", name="pk_notification_subscriptions"),
    )
    op.create_index(
        "ix_notification_subscriptions_topic_arn", "notification_subscriptions", ["topic_arn"]
    )
    op.create_index("ix_notification_subscriptions_owner", "notification_subscriptions", ["owner"])
    op.create_table(
        "notification_signing_keys",
        sa.Column("key_id", key_text(), nullable=False),
        sa.Column("sealed_key", sa.Text(), nullable=False),
        sa.Column("certificate", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key_id", name="pk_notification_signing_keys"),
    )


def downgrade() -> None:
    op.drop_table("notification_signing_keys")
    op.drop_index("ix_notification_subscriptions_owner", "notification_subscriptions")
    op.drop_index("ix_notification_subscriptions_topic_arn", "notification_subscriptions")
    op.drop_table("notification_subscriptions")
