"""EventBridge's global endpoints (decision 0355): ``events_endpoints``, one row an endpoint
(account, home Region, name), its EndpointId unique, its settings a JSON document. Nothing
to backfill: CreateEndpoint was refused.

Revision ID: 0152
Revises: 0151
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0152"
down_revision: str | None = "0151"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "events_endpoints",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("region", key_text(), nullable=False),
        sa.Column("endpoint_name", key_text(), nullable=False),
        sa.Column("endpoint_id", key_text(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "region", "endpoint_name", name="pk_events_endpoints"),
        sa.UniqueConstraint("endpoint_id", name="uq_events_endpoints_endpoint_id"),
    )


def downgrade() -> None:
    op.drop_table("events_endpoints")
