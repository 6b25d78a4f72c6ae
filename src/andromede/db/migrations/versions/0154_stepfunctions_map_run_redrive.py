"""Step Functions' Map run redrive (decision 0377): each Map run's and each child's
``redrive_count`` and ``redrive_date`` (DescribeMapRun, DescribeExecution, ListExecutions'
``redriveFilter``), and each child's ``item_index``, the first item (or batch) it ran, so
that a redrive knows which items its children that succeeded may skip. Existing rows:
never redriven (0); their item index unknown (NULL): a redrive runs those items again.

Revision ID: 0154
Revises: 0153
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0154"
down_revision: str | None = "0153"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("stepfunctions_map_runs", "stepfunctions_map_children"):
        with op.batch_alter_table(table) as batch:
            if table == "stepfunctions_map_children":
                batch.add_column(sa.Column("item_index", sa.Integer(), nullable=True))
            batch.add_column(
                sa.Column("redrive_count", sa.Integer(), nullable=False, server_default="0")
            )
            batch.add_column(sa.Column("redrive_date", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    for table in ("stepfunctions_map_runs", "stepfunctions_map_children"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("redrive_date")
            batch.drop_column("redrive_count")
            if table == "stepfunctions_map_children":
                batch.drop_column("item_index")
