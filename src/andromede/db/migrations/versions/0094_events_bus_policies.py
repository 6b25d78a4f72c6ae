"""EventBridge bus policies (decision 0192, session 48 addendum): ``events_bus_policies``, one
row per bus that has a resource policy (the default bus included, which has no bus row).
Nothing to backfill: no bus had a policy before.

Revision ID: 0094
Revises: 0093
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0094"
down_revision: str | None = "0093"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "events_bus_policies",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("bus_name", key_text(), nullable=False),
        sa.Column("policy", sa.Text(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "bus_name", name="pk_events_bus_policies"),
    )


def downgrade() -> None:
    op.drop_table("events_bus_policies")
