"""S3 Multi-Region Access Points (decision 0385): the access points themselves (account and
name, the alias the global host names, their routes as JSON, policy, Block Public Access)
and the asynchronous requests that manage them (DescribeMultiRegionAccessPointOperation).

Revision ID: 0155
Revises: 0154
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import UtcDateTime, key_text

revision: str = "0155"
down_revision: str | None = "0154"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "multi_region_access_points",
        sa.Column("tenant_id", key_text(), primary_key=True),
        sa.Column("name", key_text(), primary_key=True),
        sa.Column("alias", key_text(), nullable=False),
        sa.Column("routes", sa.Text, nullable=False),
        sa.Column("policy", sa.Text, nullable=True),
        sa.Column("public_access_block", sa.Text, nullable=False),
        sa.Column("format_version", sa.Integer, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.UniqueConstraint("alias", name="uq_multi_region_access_points_alias"),
    )
    op.create_table(
        "multi_region_access_point_operations",
        sa.Column("tenant_id", key_text(), primary_key=True),
        sa.Column("token", key_text(), primary_key=True),
        sa.Column("operation", sa.Text, nullable=False),
        sa.Column("parameters", sa.Text, nullable=False),
        sa.Column("regions", sa.Text, nullable=False),
        sa.Column("format_version", sa.Integer, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("multi_region_access_point_operations")
    op.drop_table("multi_region_access_points")
