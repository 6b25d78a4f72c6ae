"""DynamoDB secondary indexes (decision 0243): ``dynamodb_index_entries``. Nothing to
backfill: no table had an index (they were refused).

Revision ID: 0116
Revises: 0115
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0116"
down_revision: str | None = "0115"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dynamodb_index_entries",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("table_name", key_text(), nullable=False),
        sa.Column("index_name", key_text(), nullable=False),
        sa.Column("hash_token", sa.LargeBinary(), nullable=False),
        sa.Column("sort_token", sa.LargeBinary(), nullable=False),
        sa.Column("item_hash_token", sa.LargeBinary(), nullable=False),
        sa.Column("item_sort_token", sa.LargeBinary(), nullable=False),
        sa.Column("segment_point", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id",
            "table_name",
            "index_name",
            "hash_token",
            "sort_token",
            "item_hash_token",
            "item_sort_token",
            name="pk_dynamodb_index_entries",
        ),
    )
    op.create_index(
        "ix_dynamodb_index_entries_item",
        "dynamodb_index_entries",
        ["tenant_id", "table_name", "item_hash_token", "item_sort_token"],
    )


def downgrade() -> None:
    op.drop_index("ix_dynamodb_index_entries_item", table_name="dynamodb_index_entries")
    op.drop_table("dynamodb_index_entries")
