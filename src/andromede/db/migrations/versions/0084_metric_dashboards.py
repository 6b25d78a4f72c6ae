"""CloudWatch dashboards (decision 0185): ``metric_dashboards``, one row per dashboard of an
account. Nothing to backfill: no dashboard existed before.

Revision ID: 0084
Revises: 0083
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0084"
down_revision: str | None = "0083"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "metric_dashboards",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("dashboard_name", key_text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("last_modified", sa.BigInteger(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "dashboard_name", name="pk_metric_dashboards"),
    )


def downgrade() -> None:
    op.drop_table("metric_dashboards")
