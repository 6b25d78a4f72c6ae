"""A table for buckets' tag sets (Get/Put/DeleteBucketTagging), beside the bucket row rather
than in it: every request reads the bucket row, and only tagging calls read the tags.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bucket_tags",
        sa.Column("bucket", sa.Text(), sa.ForeignKey("buckets.name"), primary_key=True),
        sa.Column("tags", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("bucket_tags")
