"""IAM governance (decision 0193): ``iam_credential_reports``, an account's last credential
report, and ``iam_access_jobs``, the service-last-accessed jobs. Nothing to backfill: neither
existed before.

Revision ID: 0088
Revises: 0087
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import UtcDateTime

revision: str = "0088"
down_revision: str | None = "0087"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "iam_credential_reports",
        sa.Column("tenant_id", sa.Text(), sa.ForeignKey("tenants.id"), primary_key=True),
        sa.Column("generated_at", UtcDateTime(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
    )
    op.create_table(
        "iam_access_jobs",
        sa.Column("job_id", sa.Text(), primary_key=True),
        sa.Column("tenant_id", sa.Text(), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("arn", sa.Text(), nullable=False),
        sa.Column("granularity", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("tenant_id", "arn", name="uq_iam_access_jobs_tenant_id_arn"),
    )


def downgrade() -> None:
    op.drop_table("iam_access_jobs")
    op.drop_table("iam_credential_reports")
