"""S3 Batch Operations (decision 0152's addendum): ``batch_jobs`` (one row per job: its
request as JSON, status, counters, the working gateway's lease) and ``batch_job_tasks`` (one
row per manifest line, its result once done). Nothing to backfill: no job existed.

Revision ID: 0068
Revises: 0067
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import UtcDateTime, key_text

revision: str = "0068"
down_revision: str | None = "0067"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "batch_jobs",
        sa.Column("job_id", key_text(), primary_key=True),
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("client_token", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("total_tasks", sa.Integer(), nullable=True),
        sa.Column("succeeded", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("failure_reasons", sa.Text(), nullable=False),
        sa.Column("status_update_reason", sa.Text(), nullable=True),
        sa.Column("lease_until", UtcDateTime(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("terminated_at", UtcDateTime(), nullable=True),
        sa.UniqueConstraint("tenant_id", "client_token", name="uq_batch_jobs_token"),
    )
    op.create_index("ix_batch_jobs_tenant", "batch_jobs", ["tenant_id", "created_at"])
    op.create_table(
        "batch_job_tasks",
        sa.Column("job_id", key_text(), primary_key=True),
        sa.Column("seq", sa.Integer(), primary_key=True),
        sa.Column("bucket", key_text(), nullable=False),
        sa.Column("key", key_text(), nullable=False),
        sa.Column("version_id", sa.Text(), nullable=True),
        sa.Column("task_status", sa.Text(), nullable=True),
        sa.Column("error_code", sa.Text(), nullable=True),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("batch_job_tasks")
    op.drop_index("ix_batch_jobs_tenant", table_name="batch_jobs")
    op.drop_table("batch_jobs")
