"""AWS Certificate Manager (decision 0230): ``acm_certificates``, each account's imported
certificates with their private keys sealed under the account's key ring, and
``acm_configurations``, each account's expiry-event configuration, and ``acm_imports``, each
account's imports of the last 365 days (AWS's quota on them). Nothing to backfill: ACM
was not served before.

Revision ID: 0112
Revises: 0111
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import big_id, key_text

revision: str = "0112"
down_revision: str | None = "0111"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "acm_certificates",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("certificate_id", key_text(), nullable=False),
        sa.Column("region", key_text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("chain", sa.Text(), nullable=True),
        sa.Column("sealed_key", sa.LargeBinary(), nullable=False),
        sa.Column("facts", sa.Text(), nullable=False),
        sa.Column("not_after", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("imported_at", sa.BigInteger(), nullable=False),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.Column("expiry_checked_day", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("kind", key_text(), nullable=False, server_default="IMPORTED"),
        sa.Column("authority_arn", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "certificate_id", name="pk_acm_certificates"),
    )
    op.create_index(
        "ix_acm_certificates_expiry", "acm_certificates", ["region", "expiry_checked_day"]
    )
    op.create_table(
        "acm_configurations",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("days_before_expiry", sa.Integer(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", name="pk_acm_configurations"),
    )
    op.create_table(
        "acm_imports",
        sa.Column("seq", big_id(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("imported_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_acm_imports"),
    )
    op.create_index("ix_acm_imports_tenant", "acm_imports", ["tenant_id", "imported_at"])


def downgrade() -> None:
    op.drop_index("ix_acm_imports_tenant", table_name="acm_imports")
    op.drop_table("acm_imports")
    op.drop_table("acm_configurations")
    op.drop_index("ix_acm_certificates_expiry", table_name="acm_certificates")
    op.drop_table("acm_certificates")
