"""DynamoDB exports to S3 and imports from S3 (decision 0261): ``dynamodb_jobs``.

Revision ID: 0125
Revises: 0124
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0125"
down_revision: str | None = "0124"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dynamodb_jobs",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("kind", key_text(), nullable=False),
        sa.Column("arn", key_text(), nullable=False),
        sa.Column("table_arn", key_text(), nullable=False),
        sa.Column("client_token", key_text(), nullable=False),
        sa.Column("status", key_text(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "kind", "arn", name="pk_dynamodb_jobs"),
        sa.UniqueConstraint("tenant_id", "kind", "client_token", name="uq_dynamodb_jobs_token"),
    )
    op.create_index("ix_dynamodb_jobs_status", "dynamodb_jobs", ["status"])


def downgrade() -> None:
    op.drop_index("ix_dynamodb_jobs_status", table_name="dynamodb_jobs")
    op.drop_table("dynamodb_jobs")
