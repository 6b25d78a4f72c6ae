"""The platform metrics' periodic jobs (decision 0181): which slot of a job one gateway
claimed and did (the daily AWS/S3 storage metrics). Nothing to backfill: a job without a row
has never run, and its first claimer inserts it.

Revision ID: 0083
Revises: 0082
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0083"
down_revision: str | None = "0082"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "metric_runs",
        sa.Column("name", key_text(), nullable=False),
        sa.Column("done_slot", sa.BigInteger(), nullable=False),
        sa.Column("claimed_slot", sa.BigInteger(), nullable=False),
        sa.Column("holder", sa.Text(), nullable=False),
        sa.Column("lease_until", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_metric_runs"),
    )


def downgrade() -> None:
    op.drop_table("metric_runs")
