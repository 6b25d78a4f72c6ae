"""Secrets Manager (decision 0190): ``secrets`` and ``secret_versions``. Nothing to backfill:
no secret existed before.

Revision ID: 0085
Revises: 0084
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0085"
down_revision: str | None = "0084"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "secrets",
        sa.Column("arn", key_text(), nullable=False),
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("region", key_text(), nullable=False),
        sa.Column("name", key_text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("kms_key_id", sa.Text(), nullable=True),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("policy", sa.Text(), nullable=True),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("last_changed", sa.BigInteger(), nullable=False),
        sa.Column("last_accessed", sa.BigInteger(), nullable=True),
        sa.Column("deleted_date", sa.BigInteger(), nullable=True),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("arn", name="pk_secrets"),
        sa.UniqueConstraint("tenant_id", "region", "name", name="uq_secrets_tenant_id_region_name"),
    )
    op.create_table(
        "secret_versions",
        sa.Column("secret_arn", key_text(), nullable=False),
        sa.Column("version_id", key_text(), nullable=False),
        sa.Column("stages", sa.Text(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("last_accessed", sa.BigInteger(), nullable=True),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("binary", sa.Boolean(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("secret_arn", "version_id", name="pk_secret_versions"),
    )


def downgrade() -> None:
    op.drop_table("secret_versions")
    op.drop_table("secrets")
