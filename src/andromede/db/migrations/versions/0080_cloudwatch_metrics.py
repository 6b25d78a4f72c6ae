"""CloudWatch-style metrics (decision 0172): the series of each account and their datapoints,
one aggregate per (series, resolution, period start, unit). Nothing to backfill: no metric
existed before.

Revision ID: 0080
Revises: 0079
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0080"
down_revision: str | None = "0079"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "metric_series",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("namespace", key_text(), nullable=False),
        sa.Column("metric_name", key_text(), nullable=False),
        sa.Column("dimensions_hash", key_text(), nullable=False),
        sa.Column("dimensions", sa.Text(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.Column("last_put", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "namespace", "metric_name", "dimensions_hash", name="pk_metric_series"
        ),
    )
    op.create_index("ix_metric_series_last_put", "metric_series", ["last_put"])
    op.create_table(
        "metric_datapoints",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("namespace", key_text(), nullable=False),
        sa.Column("metric_name", key_text(), nullable=False),
        sa.Column("dimensions_hash", key_text(), nullable=False),
        sa.Column("resolution", sa.Integer(), nullable=False),
        sa.Column("period_start", sa.BigInteger(), nullable=False),
        sa.Column("unit", key_text(), nullable=False),
        sa.Column("sample_count", sa.Float(), nullable=False),
        sa.Column("sum", sa.Float(), nullable=False),
        sa.Column("minimum", sa.Float(), nullable=False),
        sa.Column("maximum", sa.Float(), nullable=False),
        sa.Column("histogram", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint(
            "tenant_id",
            "namespace",
            "metric_name",
            "dimensions_hash",
            "resolution",
            "period_start",
            "unit",
            name="pk_metric_datapoints",
        ),
    )
    op.create_index(
        "ix_metric_datapoints_resolution_period_start",
        "metric_datapoints",
        ["resolution", "period_start"],
    )


def downgrade() -> None:
    op.drop_index("ix_metric_datapoints_resolution_period_start", table_name="metric_datapoints")
    op.drop_table("metric_datapoints")
    op.drop_index("ix_metric_series_last_put", table_name="metric_series")
    op.drop_table("metric_series")
