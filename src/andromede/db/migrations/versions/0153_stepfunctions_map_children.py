"""Step Functions' Map run children (decision 0369): ``stepfunctions_map_children``, each
distributed Map's child execution — its run, status, dates, item count, and its input,
output, error, cause and history sealed under its account's key ring. Nothing to backfill:
children were not kept before.

Revision ID: 0153
Revises: 0152
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0153"
down_revision: str | None = "0152"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stepfunctions_map_children",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("execution_arn", key_text(), nullable=False),
        sa.Column("map_run_arn", key_text(), nullable=False),
        sa.Column("status", key_text(), nullable=False),
        sa.Column("started", sa.BigInteger(), nullable=False),
        sa.Column("stopped", sa.BigInteger(), nullable=True),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.Column("document_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "execution_arn", name="pk_stepfunctions_map_children"),
    )
    op.create_index(
        "ix_stepfunctions_map_children_run",
        "stepfunctions_map_children",
        ["tenant_id", "map_run_arn", "started"],
    )


def downgrade() -> None:
    op.drop_index("ix_stepfunctions_map_children_run", table_name="stepfunctions_map_children")
    op.drop_table("stepfunctions_map_children")
