"""EventBridge connections and API destinations (decision 0200): ``events_connections`` (one
row per connection, its AuthParameters sealed under the tenant's key in ``secret``) and
``events_api_destinations`` (one row per API destination). Nothing to backfill: neither
existed before.

Revision ID: 0097
Revises: 0096
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0097"
down_revision: str | None = "0096"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "events_connections",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("connection_name", key_text(), nullable=False),
        sa.Column("uuid", sa.Text(), nullable=False),
        sa.Column("auth_type", sa.Text(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("secret", sa.Text(), nullable=True),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "connection_name", name="pk_events_connections"),
    )
    op.create_table(
        "events_api_destinations",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("destination_name", key_text(), nullable=False),
        sa.Column("uuid", sa.Text(), nullable=False),
        sa.Column("connection_name", key_text(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "destination_name", name="pk_events_api_destinations"),
    )


def downgrade() -> None:
    op.drop_table("events_api_destinations")
    op.drop_table("events_connections")
