"""EventBridge's durable deliveries (decision 0192, session 48 addendum): ``events_deliveries``,
one row per matched event and target waiting for its delivery, sealed, leased by the
gateways' workers. Nothing to backfill: retries were held in memory before.

Revision ID: 0091
Revises: 0090
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import UtcDateTime, big_id, key_text

revision: str = "0091"
down_revision: str | None = "0090"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "events_deliveries",
        sa.Column("id", big_id(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("rule_arn", sa.Text(), nullable=False),
        sa.Column("target_id", sa.Text(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("not_before", UtcDateTime(), nullable=False),
        sa.Column("lease_until", UtcDateTime(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_events_deliveries"),
    )
    op.create_index("ix_events_deliveries_not_before", "events_deliveries", ["not_before"])
    op.create_index("ix_events_deliveries_tenant_id", "events_deliveries", ["tenant_id"])


def downgrade() -> None:
    op.drop_index("ix_events_deliveries_tenant_id", table_name="events_deliveries")
    op.drop_index("ix_events_deliveries_not_before", table_name="events_deliveries")
    op.drop_table("events_deliveries")
