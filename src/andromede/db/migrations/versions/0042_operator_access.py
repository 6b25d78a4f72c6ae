"""Operator access requests (decision 0107): an operator's request to touch a tenant's data,
pending until the tenant approves or refuses it, granting until its end unless revoked.

Revises 0040 (main's head when it was written; 0041, Object Lock's, may be chained between
them when both are merged).

Revision ID: 0042
Revises: 0040
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import UtcDateTime

revision: str = "0042"
down_revision: str | None = "0040"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "operator_access_requests",
        sa.Column("id", sa.Text(), primary_key=True),
        sa.Column(
            "tenant_id",
            sa.Text(),
            sa.ForeignKey("tenants.id", name="fk_operator_access_requests_tenant_id_tenants"),
            nullable=False,
        ),
        sa.Column(
            "operator_id",
            sa.Text(),
            sa.ForeignKey("operators.id", name="fk_operator_access_requests_operator_id_operators"),
            nullable=False,
        ),
        sa.Column("operator_name", sa.Text(), nullable=False),
        sa.Column("buckets", sa.Text(), nullable=True),
        sa.Column("mode", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("duration_seconds", sa.Integer(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("decided_at", UtcDateTime(), nullable=True),
        sa.Column("decided_by", sa.Text(), nullable=True),
        sa.Column("expires_at", UtcDateTime(), nullable=True),
        sa.Column("revoked_at", UtcDateTime(), nullable=True),
        sa.Column("revoked_by", sa.Text(), nullable=True),
    )
    op.create_index(
        "ix_operator_access_requests_tenant_id_created_at",
        "operator_access_requests",
        ["tenant_id", "created_at"],
    )
    op.create_index(
        "ix_operator_access_requests_operator_id_created_at",
        "operator_access_requests",
        ["operator_id", "created_at"],
    )


def downgrade() -> None:
    op.drop_index(
        "ix_operator_access_requests_operator_id_created_at",
        table_name="operator_access_requests",
    )
    op.drop_index(
        "ix_operator_access_requests_tenant_id_created_at", table_name="operator_access_requests"
    )
    op.drop_table("operator_access_requests")
