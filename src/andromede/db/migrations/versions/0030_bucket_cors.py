"""A table for buckets' CORS rules (Get/Put/DeleteBucketCors), beside the bucket row as its tags
are: only requests that carry an ``Origin`` and the CORS calls read them (decision 0077).

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bucket_cors",
        sa.Column("bucket", sa.Text(), sa.ForeignKey("buckets.name"), primary_key=True),
        sa.Column("rules", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("bucket_cors")
