"""CloudWatch metric streams (decision 0233): ``metric_streams``, each account's streams into
Amazon Data Firehose. Nothing to backfill: metric streams were not served.

Revision ID: 0113
Revises: 0112
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0113"
down_revision: str | None = "0112"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "metric_streams",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("stream_name", key_text(), nullable=False),
        sa.Column("firehose_arn", sa.Text(), nullable=False),
        sa.Column("role_arn", sa.Text(), nullable=False),
        sa.Column("output_format", key_text(), nullable=False),
        sa.Column("state", key_text(), nullable=False),
        sa.Column("selection", sa.Text(), nullable=False),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("updated", sa.BigInteger(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "stream_name", name="pk_metric_streams"),
    )
    op.create_index("ix_metric_streams_state", "metric_streams", ["state"])


def downgrade() -> None:
    op.drop_index("ix_metric_streams_state", table_name="metric_streams")
    op.drop_table("metric_streams")
