"""CloudWatch Logs export tasks (decision 0186, session-49 addendum): ``log_export_tasks``,
each account's exports of a group to an S3 bucket with their status and the lease of the
gateway running one, so any gateway answers DescribeExportTasks and runs a pending task.
Nothing to backfill: exports were not served before.

Revision ID: 0096
Revises: 0095
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0096"
down_revision: str | None = "0095"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "log_export_tasks",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("task_id", key_text(), nullable=False),
        sa.Column("task_name", key_text(), nullable=False),
        sa.Column("group_name", key_text(), nullable=False),
        sa.Column("stream_prefix", key_text(), nullable=False),
        sa.Column("start_time", sa.BigInteger(), nullable=False),
        sa.Column("end_time", sa.BigInteger(), nullable=False),
        sa.Column("bucket", key_text(), nullable=False),
        sa.Column("prefix", sa.Text(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("status", key_text(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("completed", sa.BigInteger(), nullable=True),
        sa.Column("lease_owner", key_text(), nullable=True),
        sa.Column("lease_until", sa.BigInteger(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "task_id", name="pk_log_export_tasks"),
    )
    op.create_index("ix_log_export_tasks_status", "log_export_tasks", ["status", "created"])
    op.create_index("ix_log_export_tasks_created", "log_export_tasks", ["tenant_id", "created"])


def downgrade() -> None:
    op.drop_index("ix_log_export_tasks_created", table_name="log_export_tasks")
    op.drop_index("ix_log_export_tasks_status", table_name="log_export_tasks")
    op.drop_table("log_export_tasks")
