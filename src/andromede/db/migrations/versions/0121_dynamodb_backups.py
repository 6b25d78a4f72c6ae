"""DynamoDB on-demand backups (decision 0253): ``dynamodb_backups`` and
``dynamodb_backup_items``. Nothing to backfill: no backup was made (CreateBackup was
refused); deletion protection and a restore's summary live in ``dynamodb_tables``' JSON
definition (absent: off, none).

Revision ID: 0121
Revises: 0120
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0121"
down_revision: str | None = "0120"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dynamodb_backups",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("backup_id", key_text(), nullable=False),
        sa.Column("backup_name", key_text(), nullable=False),
        sa.Column("table_name", key_text(), nullable=False),
        sa.Column("region", key_text(), nullable=False),
        sa.Column("table_created", sa.BigInteger(), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        sa.Column("table_revision", sa.Integer(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("item_count", sa.BigInteger(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "backup_id", name="pk_dynamodb_backups"),
    )
    op.create_table(
        "dynamodb_backup_items",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("backup_id", key_text(), nullable=False),
        sa.Column("hash_token", sa.LargeBinary(), nullable=False),
        sa.Column("sort_token", sa.LargeBinary(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "backup_id", "hash_token", "sort_token", name="pk_dynamodb_backup_items"
        ),
    )


def downgrade() -> None:
    op.drop_table("dynamodb_backup_items")
    op.drop_table("dynamodb_backups")
