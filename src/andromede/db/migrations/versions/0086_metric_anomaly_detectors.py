"""CloudWatch anomaly detectors (decision 0189): ``metric_anomaly_detectors``, one row per
detector of an account. Nothing to backfill: no detector existed before.

Revision ID: 0086
Revises: 0085
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0086"
down_revision: str | None = "0085"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "metric_anomaly_detectors",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("detector_key", sa.String(64), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "detector_key", name="pk_metric_anomaly_detectors"),
    )


def downgrade() -> None:
    op.drop_table("metric_anomaly_detectors")
