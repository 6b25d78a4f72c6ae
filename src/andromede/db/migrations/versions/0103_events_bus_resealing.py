"""EventBridge rules and targets under their bus's customer key (decision 0218):
``events_buses.resealing``, set while a change of key re-seals the bus's rules, targets and
waiting deliveries, so that any gateway resumes the task after a crash. Nothing to backfill:
no bus was being re-sealed before.

Revision ID: 0103
Revises: 0102
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0103"
down_revision: str | None = "0102"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "events_buses",
        sa.Column("resealing", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_index("ix_events_buses_resealing", "events_buses", ["resealing"])


def downgrade() -> None:
    op.drop_index("ix_events_buses_resealing", table_name="events_buses")
    # Plain ALTER TABLE on both databases (SQLite has it since 3.35), as 0038.
    op.drop_column("events_buses", "resealing")
