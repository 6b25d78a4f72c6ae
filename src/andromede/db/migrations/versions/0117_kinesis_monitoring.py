"""Kinesis enhanced monitoring (decision 0245): on ``kinesis_streams``, ``shard_level_metrics``
(a JSON list of the shard-level metric names enabled). Every existing stream has none: the
column's default, ``[]``, is their backfill.

Revision ID: 0117
Revises: 0116
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0117"
down_revision: str | None = "0116"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("kinesis_streams") as batch:
        batch.add_column(
            sa.Column("shard_level_metrics", sa.Text(), nullable=False, server_default="[]")
        )


def downgrade() -> None:
    with op.batch_alter_table("kinesis_streams") as batch:
        batch.drop_column("shard_level_metrics")
