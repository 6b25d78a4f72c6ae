"""DynamoDB's Kinesis streaming destinations (decision 0262): ``dynamodb_kinesis_queue`` and
``dynamodb_kinesis_leases`` (the destinations themselves are in their table's definition).

Revision ID: 0126
Revises: 0125
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import big_id, key_text

revision: str = "0126"
down_revision: str | None = "0125"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dynamodb_kinesis_queue",
        sa.Column("id", big_id(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("table_name", key_text(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("event", key_text(), nullable=False),
        sa.Column("hash_token", sa.LargeBinary(), nullable=False),
        sa.Column("sort_token", sa.LargeBinary(), nullable=False),
        sa.Column("old_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("old_size", sa.Integer(), nullable=False),
        sa.Column("new_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("new_size", sa.Integer(), nullable=False),
        sa.Column("by_service", sa.Boolean(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_dynamodb_kinesis_queue"),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_dynamodb_kinesis_queue_table",
        "dynamodb_kinesis_queue",
        ["tenant_id", "table_name", "id"],
    )
    op.create_table(
        "dynamodb_kinesis_leases",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("table_name", key_text(), nullable=False),
        sa.Column("owner", key_text(), nullable=False),
        sa.Column("lease_until", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "table_name", name="pk_dynamodb_kinesis_leases"),
    )


def downgrade() -> None:
    op.drop_table("dynamodb_kinesis_leases")
    op.drop_index("ix_dynamodb_kinesis_queue_table", table_name="dynamodb_kinesis_queue")
    op.drop_table("dynamodb_kinesis_queue")
