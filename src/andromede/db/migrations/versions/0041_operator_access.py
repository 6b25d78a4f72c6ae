"""Operator access requests and audit retention (decision 0107): an operator's request to
touch a tenant's data, pending until the tenant approves or refuses it, granting until its end
unless revoked; and the audit logs' pruned prefix — an entry's text may become NULL once
retention has passed, its leaf hash staying, and each log counts how many it pruned.

Revises 0040 (main's head when it was written; 0041, Object Lock's, may be chained between
them when both are merged).

Revision ID: 0041
Revises: 0040
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import UtcDateTime

revision: str = "0041"
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
    with op.batch_alter_table("audit_logs") as batch:
        batch.add_column(
            sa.Column("pruned_size", sa.BigInteger(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("audit_log_entries") as batch:
        batch.alter_column("entry", existing_type=sa.Text(), nullable=True)


def downgrade() -> None:
    # Refused once entries were pruned: their text cannot come back, and NOT NULL would not hold.
    bind = op.get_bind()
    pruned = sa.text("SELECT 1 FROM audit_logs WHERE pruned_size > 0 LIMIT 1")
    if bind.execute(pruned).first() is not None:
        raise RuntimeError("audit log entries were pruned: the column cannot be NOT NULL again")
    with op.batch_alter_table("audit_log_entries") as batch:
        batch.alter_column("entry", existing_type=sa.Text(), nullable=False)
    with op.batch_alter_table("audit_logs") as batch:
        batch.drop_column("pruned_size")
    op.drop_index(
        "ix_operator_access_requests_operator_id_created_at",
        table_name="operator_access_requests",
    )
    op.drop_index(
        "ix_operator_access_requests_tenant_id_created_at", table_name="operator_access_requests"
    )
    op.drop_table("operator_access_requests")
