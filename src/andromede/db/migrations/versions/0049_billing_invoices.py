"""Invoices (decision 0123): the issued documents, one per tenant and month, and the gapless
number sequence of each calendar year.

Revision ID: 0049
Revises: 0048
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import UtcDateTime

revision: str = "0049"
down_revision: str | None = "0048"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "billing_invoices",
        sa.Column("number", sa.Text(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("period", sa.Text(), nullable=False),
        sa.Column("issued_at", UtcDateTime(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("number", name="pk_billing_invoices"),
        sa.UniqueConstraint("tenant_id", "period", name="uq_billing_invoices_tenant_id_period"),
    )
    op.create_table(
        "billing_invoice_sequences",
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("last_number", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("year", name="pk_billing_invoice_sequences"),
    )


def downgrade() -> None:
    # Issued invoices are accounting records: they are not dropped with a downgrade.
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT COUNT(*) FROM billing_invoices")).scalar():
        raise RuntimeError("billing_invoices holds issued invoices: they are kept (10 years)")
    op.drop_table("billing_invoice_sequences")
    op.drop_table("billing_invoices")
