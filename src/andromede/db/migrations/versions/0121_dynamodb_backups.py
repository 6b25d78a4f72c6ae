"""DynamoDB on-demand backups and point-in-time recovery (decision 0253): ``dynamodb_backups``,
``dynamodb_backup_items`` and ``dynamodb_item_versions``. Nothing to backfill: no backup was
made, no table had recovery on (both were refused); deletion protection, a restore's summary
and point-in-time recovery's state live in ``dynamodb_tables``' JSON definition (absent: off,
none).

Revision ID: 0121
Revises: 0120
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import big_id, key_text

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
    op.create_table(
        "dynamodb_item_versions",
        sa.Column("id", big_id(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("table_name", key_text(), nullable=False),
        sa.Column("table_created", sa.BigInteger(), nullable=False),
        sa.Column("hash_token", sa.LargeBinary(), nullable=False),
        sa.Column("sort_token", sa.LargeBinary(), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_dynamodb_item_versions"),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_dynamodb_item_versions_item",
        "dynamodb_item_versions",
        ["tenant_id", "table_name", "table_created", "hash_token", "sort_token", "at"],
    )


def downgrade() -> None:
    op.drop_index("ix_dynamodb_item_versions_item", table_name="dynamodb_item_versions")
    op.drop_table("dynamodb_item_versions")
    op.drop_table("dynamodb_backup_items")
    op.drop_table("dynamodb_backups")
