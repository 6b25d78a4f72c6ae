"""Network Load Balancers (decision 0191): ``lb_resources``, one row per load balancer, target
group or listener of an account, a JSON document with a revision. Nothing to backfill: no load
balancer existed before.

Revision ID: 0093
Revises: 0092
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0093"
down_revision: str | None = "0092"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "lb_resources",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("kind", key_text(), nullable=False),
        sa.Column("resource_id", key_text(), nullable=False),
        sa.Column("name", key_text(), nullable=False),
        sa.Column("parent", key_text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "kind", "resource_id", name="pk_lb_resources"),
        sa.UniqueConstraint("tenant_id", "kind", "name", name="uq_lb_resources_name"),
    )


def downgrade() -> None:
    op.drop_table("lb_resources")
