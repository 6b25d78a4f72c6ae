"""Step Functions' Map runs (decision 0322): ``stepfunctions_map_runs``, each distributed Map
state's run — its execution, status, the settings UpdateMapRun changes and AWS's item and
execution counts. Nothing to backfill: no distributed Map ran before.

Revision ID: 0146
Revises: 0145
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0146"
down_revision: str | None = "0145"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stepfunctions_map_runs",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("map_run_arn", key_text(), nullable=False),
        sa.Column("execution_arn", key_text(), nullable=False),
        sa.Column("status", key_text(), nullable=False),
        sa.Column("started", sa.BigInteger(), nullable=False),
        sa.Column("stopped", sa.BigInteger(), nullable=True),
        sa.Column("max_concurrency", sa.Integer(), nullable=False),
        sa.Column("tolerated_percentage", sa.Float(), nullable=False),
        sa.Column("tolerated_count", sa.BigInteger(), nullable=False),
        sa.Column("item_counts", sa.Text(), nullable=False),
        sa.Column("execution_counts", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "map_run_arn", name="pk_stepfunctions_map_runs"),
    )
    op.create_index(
        "ix_stepfunctions_map_runs_execution",
        "stepfunctions_map_runs",
        ["tenant_id", "execution_arn"],
    )


def downgrade() -> None:
    op.drop_index("ix_stepfunctions_map_runs_execution", table_name="stepfunctions_map_runs")
    op.drop_table("stepfunctions_map_runs")
