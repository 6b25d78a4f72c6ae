"""Secrets Manager replication across regions (decision 0207): ``secrets.primary_region`` and
``secret_replicas``. Nothing to backfill: no secret was replicated before.

Revision ID: 0100
Revises: 0099
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0100"
down_revision: str | None = "0099"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("secrets", sa.Column("primary_region", sa.Text(), nullable=True))
    op.create_table(
        "secret_replicas",
        sa.Column("primary_arn", key_text(), nullable=False),
        sa.Column("region", key_text(), nullable=False),
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("kms_key_id", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("due", sa.BigInteger(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.Column("overwrite", sa.Boolean(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("primary_arn", "region", name="pk_secret_replicas"),
    )
    op.create_index("ix_secret_replicas_due", "secret_replicas", ["region", "due"])


def downgrade() -> None:
    op.drop_index("ix_secret_replicas_due", table_name="secret_replicas")
    op.drop_table("secret_replicas")
    # Plain ALTER TABLE on both databases (SQLite has it since 3.35), as 0038.
    op.drop_column("secrets", "primary_region")
