"""Billing profiles and credit notes (decision 0126): each tenant's billing profile, the credit
notes issued on invoices and their gapless number sequence of each calendar year.

Revision ID: 0051
Revises: 0050
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import UtcDateTime

revision: str = "0051"
down_revision: str | None = "0050"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "billing_profiles",
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", name="pk_billing_profiles"),
    )
    op.create_table(
        "billing_credit_notes",
        sa.Column("number", sa.Text(), nullable=False),
        sa.Column("invoice_number", sa.Text(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("issued_at", UtcDateTime(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("number", name="pk_billing_credit_notes"),
    )
    op.create_index(
        "ix_billing_credit_notes_invoice_number", "billing_credit_notes", ["invoice_number"]
    )
    op.create_index("ix_billing_credit_notes_tenant_id", "billing_credit_notes", ["tenant_id"])
    op.create_table(
        "billing_credit_note_sequences",
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("last_number", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("year", name="pk_billing_credit_note_sequences"),
    )


def downgrade() -> None:
    # Credit notes are accounting records, and profiles what the invoices yet to issue need:
    # neither is dropped with a downgrade.
    bind = op.get_bind()
    for table, what in (
        ("billing_credit_notes", "issued credit notes: they are kept (10 years)"),
        ("billing_profiles", "tenants' billing profiles: remove them first"),
    ):
        if bind.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar():  # noqa: S608
            raise RuntimeError(f"{table} holds {what}")
    op.drop_table("billing_credit_note_sequences")
    op.drop_index("ix_billing_credit_notes_tenant_id", table_name="billing_credit_notes")
    op.drop_index("ix_billing_credit_notes_invoice_number", table_name="billing_credit_notes")
    op.drop_table("billing_credit_notes")
    op.drop_table("billing_profiles")
