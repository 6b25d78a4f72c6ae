"""Amazon DynamoDB (decision 0237): ``dynamodb_tables`` and ``dynamodb_items``. Nothing to
backfill: DynamoDB was not served.

Revision ID: 0115
Revises: 0114
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0115"
down_revision: str | None = "0114"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dynamodb_tables",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("table_name", key_text(), nullable=False),
        sa.Column("region", key_text(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "table_name", name="pk_dynamodb_tables"),
    )
    op.create_table(
        "dynamodb_items",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("table_name", key_text(), nullable=False),
        sa.Column("hash_token", sa.LargeBinary(), nullable=False),
        sa.Column("sort_token", sa.LargeBinary(), nullable=False),
        sa.Column("segment_point", sa.BigInteger(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("expires", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint(
            "tenant_id", "table_name", "hash_token", "sort_token", name="pk_dynamodb_items"
        ),
    )
    op.create_index("ix_dynamodb_items_expires", "dynamodb_items", ["expires"])


def downgrade() -> None:
    op.drop_index("ix_dynamodb_items_expires", table_name="dynamodb_items")
    op.drop_table("dynamodb_items")
    op.drop_table("dynamodb_tables")
