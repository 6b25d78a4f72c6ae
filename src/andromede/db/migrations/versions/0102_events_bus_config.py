"""EventBridge buses under a customer's KMS key, with a dead-letter queue (decision 0213):
``events_buses.config``. Nothing to backfill: no bus had either before.

Revision ID: 0102
Revises: 0101
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0102"
down_revision: str | None = "0101"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("events_buses", sa.Column("config", sa.Text(), nullable=True))


def downgrade() -> None:
    # Plain ALTER TABLE on both databases (SQLite has it since 3.35), as 0038.
    op.drop_column("events_buses", "config")
