"""A table for buckets' configuration documents by kind: the static website's first (Get/Put/
DeleteBucketWebsite), then the lifecycle, logging, notification and replication
configurations, without a table each (decision 0081).

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0031"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bucket_documents",
        sa.Column("bucket", sa.Text(), sa.ForeignKey("buckets.name"), primary_key=True),
        sa.Column("kind", sa.Text(), primary_key=True),
        sa.Column("document", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("bucket_documents")
