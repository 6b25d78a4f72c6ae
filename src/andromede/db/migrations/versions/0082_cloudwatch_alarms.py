"""CloudWatch metric alarms (decision 0177): the alarms of each account and their history.
Nothing to backfill: no alarm existed before.

Revision ID: 0082
Revises: 0081
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0082"
down_revision: str | None = "0081"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "metric_alarms",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("alarm_name", key_text(), nullable=False),
        sa.Column("namespace", key_text(), nullable=False),
        sa.Column("metric_name", key_text(), nullable=False),
        sa.Column("dimensions_hash", key_text(), nullable=False),
        sa.Column("state", key_text(), nullable=False),
        sa.Column("next_evaluation", sa.BigInteger(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "alarm_name", name="pk_metric_alarms"),
    )
    op.create_index("ix_metric_alarms_next_evaluation", "metric_alarms", ["next_evaluation"])
    op.create_index(
        "ix_metric_alarms_series",
        "metric_alarms",
        ["tenant_id", "namespace", "metric_name", "dimensions_hash"],
    )
    op.create_table(
        "metric_alarm_history",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("alarm_name", key_text(), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("item_id", key_text(), nullable=False),
        sa.Column("item_type", key_text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "alarm_name", "at", "item_id", name="pk_metric_alarm_history"
        ),
    )
    op.create_index("ix_metric_alarm_history_at", "metric_alarm_history", ["at"])


def downgrade() -> None:
    op.drop_index("ix_metric_alarm_history_at", table_name="metric_alarm_history")
    op.drop_table("metric_alarm_history")
    op.drop_index(
        "ix_metric_alarms_series",
        table_name="metric_alarms",
    )
    op.drop_index("ix_metric_alarms_next_evaluation", table_name="metric_alarms")
    op.drop_table("metric_alarms")
