"""S3 Object Lambda access points (decision 0384): ``object_lambda_access_points``, one row
per Object Lambda access point. Nothing to backfill: none existed.

Revision ID: 0158
Revises: 0157
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import UtcDateTime, key_text

revision: str = "0158"
down_revision: str | None = "0157"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "object_lambda_access_points",
        sa.Column("tenant_id", key_text(), primary_key=True),
        sa.Column("name", key_text(), primary_key=True),
        sa.Column("alias", key_text(), nullable=False),
        sa.Column("configuration", sa.Text(), nullable=False),
        sa.Column("policy", sa.Text(), nullable=True),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("alias", name="uq_object_lambda_access_points_alias"),
    )


def downgrade() -> None:
    op.drop_table("object_lambda_access_points")
