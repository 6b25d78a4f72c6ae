"""Tumbling windows of Lambda's stream event source mappings (decision 0319): each shard's
open window on its checkpoint row of ``lambda_mapping_checkpoints`` — ``window_start`` (ms)
and ``window_state`` (the function's last returned state, sealed under the account's keys).
Nothing to backfill: no window was open before.

Revision ID: 0145
Revises: 0144
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0145"
down_revision: str | None = "0144"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("lambda_mapping_checkpoints") as batch:
        batch.add_column(sa.Column("window_start", sa.BigInteger, nullable=True))
        batch.add_column(sa.Column("window_state", sa.LargeBinary, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("lambda_mapping_checkpoints") as batch:
        batch.drop_column("window_state")
        batch.drop_column("window_start")
