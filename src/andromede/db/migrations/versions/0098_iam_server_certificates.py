"""IAM server certificates (decision 0205): ``iam_server_certificates``, one row per
certificate, its private key sealed under the account's key ring. Nothing to backfill.

Revision ID: 0098
Revises: 0097
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import UtcDateTime, key_text

revision: str = "0098"
down_revision: str | None = "0097"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "iam_server_certificates",
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("name", key_text(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("certificate_id", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("chain", sa.Text(), nullable=True),
        sa.Column("sealed_private_key", sa.LargeBinary(), nullable=False),
        sa.Column("uploaded_at", UtcDateTime(), nullable=False),
        sa.Column("expiration", UtcDateTime(), nullable=False),
        sa.Column("tags", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "name", name="pk_iam_server_certificates"),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_iam_server_certificates_tenant_id_tenants"
        ),
        sa.UniqueConstraint("certificate_id", name="uq_iam_server_certificates_certificate_id"),
    )


def downgrade() -> None:
    op.drop_table("iam_server_certificates")
