"""Bucket replication (decision 0112): the durable queue of versions waiting to be copied to
a destination bucket, claimed by the gateways serving both regions, and each version's
replication status (PENDING, COMPLETED, FAILED on a source; REPLICA on a destination).

Revision ID: 0043
Revises: 0042
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import UtcDateTime, big_id, key_text

revision: str = "0043"
down_revision: str | None = "0042"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "replication_tasks",
        sa.Column("id", big_id(), autoincrement=True, nullable=False),
        sa.Column("source_bucket", sa.Text(), nullable=False),
        sa.Column("key", key_text(), nullable=False),
        sa.Column("version_id", sa.Text(), nullable=False),
        sa.Column("destination_bucket", sa.Text(), nullable=False),
        sa.Column("rule_id", sa.Text(), nullable=False),
        sa.Column("source_region", sa.Text(), nullable=False),
        sa.Column("destination_region", sa.Text(), nullable=False),
        sa.Column("delete_marker", sa.Boolean(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("not_before", UtcDateTime(), nullable=False),
        sa.Column("lease_until", UtcDateTime(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_replication_tasks"),
    )
    op.create_index("ix_replication_tasks_not_before", "replication_tasks", ["not_before"])
    op.create_table(
        "replication_statuses",
        sa.Column("bucket", sa.Text(), nullable=False),
        sa.Column("key", key_text(), nullable=False),
        sa.Column("version_id", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("bucket", "key", "version_id", name="pk_replication_statuses"),
    )


def downgrade() -> None:
    op.drop_table("replication_statuses")
    op.drop_index("ix_replication_tasks_not_before", table_name="replication_tasks")
    op.drop_table("replication_tasks")
