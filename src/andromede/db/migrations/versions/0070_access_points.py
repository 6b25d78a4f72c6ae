"""S3 access points (decision 0157): ``access_points``, one row per access point. Nothing
to backfill: no access point existed.

Revision ID: 0070
Revises: 0069
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import UtcDateTime, key_text

revision: str = "0070"
# 0069 may be another branch's of this session; the lead chains this one after it at merge.
down_revision: str | None = "0069"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "access_points",
        sa.Column("tenant_id", key_text(), primary_key=True),
        sa.Column("name", key_text(), primary_key=True),
        sa.Column("bucket", key_text(), nullable=False),
        sa.Column("bucket_account", sa.Text(), nullable=False),
        sa.Column("alias", key_text(), nullable=False),
        sa.Column("policy", sa.Text(), nullable=True),
        sa.Column("public_access_block", sa.Text(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("alias", name="uq_access_points_alias"),
    )
    op.create_index("ix_access_points_bucket", "access_points", ["tenant_id", "bucket"])


def downgrade() -> None:
    op.drop_index("ix_access_points_bucket", table_name="access_points")
    op.drop_table("access_points")
