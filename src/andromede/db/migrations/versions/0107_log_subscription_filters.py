"""CloudWatch Logs subscription filters (decision 0225): ``log_subscription_filters``, each
group's filters into Firehose streams, and ``log_subscription_outbox``, the records waiting
for their destination, sealed. Nothing to backfill: subscription filters were not served.

Revision ID: 0107
Revises: 0106
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0107"
down_revision: str | None = "0106"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "log_subscription_filters",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("group_name", key_text(), nullable=False),
        sa.Column("filter_name", key_text(), nullable=False),
        sa.Column("pattern", sa.Text(), nullable=False),
        sa.Column("destination_arn", sa.Text(), nullable=False),
        sa.Column("role_arn", sa.Text(), nullable=False),
        sa.Column("distribution", key_text(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "group_name", "filter_name", name="pk_log_subscription_filters"
        ),
    )
    op.create_table(
        "log_subscription_outbox",
        sa.Column("entry_id", key_text(), nullable=False),
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("group_name", key_text(), nullable=False),
        sa.Column("filter_name", key_text(), nullable=False),
        sa.Column("destination_arn", sa.Text(), nullable=False),
        sa.Column("role_arn", sa.Text(), nullable=False),
        sa.Column("arrived", sa.BigInteger(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt", sa.BigInteger(), nullable=False),
        sa.Column("lease_owner", key_text(), nullable=True),
        sa.Column("lease_until", sa.BigInteger(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("entry_id", name="pk_log_subscription_outbox"),
    )
    op.create_index("ix_log_subscription_outbox_due", "log_subscription_outbox", ["next_attempt"])
    op.create_index(
        "ix_log_subscription_outbox_tenant",
        "log_subscription_outbox",
        ["tenant_id", "group_name"],
    )


def downgrade() -> None:
    op.drop_index("ix_log_subscription_outbox_tenant", table_name="log_subscription_outbox")
    op.drop_index("ix_log_subscription_outbox_due", table_name="log_subscription_outbox")
    op.drop_table("log_subscription_outbox")
    op.drop_table("log_subscription_filters")
