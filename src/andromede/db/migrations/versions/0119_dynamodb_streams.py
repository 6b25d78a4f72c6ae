"""DynamoDB Streams (decision 0246): ``dynamodb_streams`` and ``dynamodb_stream_records``.
Nothing to backfill: no table had a stream (they were refused).

Revision ID: 0119
Revises: 0118
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0119"
down_revision: str | None = "0118"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dynamodb_streams",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("table_name", key_text(), nullable=False),
        sa.Column("label", key_text(), nullable=False),
        sa.Column("region", key_text(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("table_created", sa.BigInteger(), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        sa.Column("iterator_key", sa.LargeBinary(), nullable=False),
        sa.Column("disabled", sa.BigInteger(), nullable=False),
        sa.Column("next_sequence", sa.BigInteger(), nullable=False),
        sa.Column("trimmed_to", sa.BigInteger(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "table_name", "label", name="pk_dynamodb_streams"),
    )
    op.create_table(
        "dynamodb_stream_records",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("table_name", key_text(), nullable=False),
        sa.Column("label", key_text(), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("event", key_text(), nullable=False),
        sa.Column("hash_token", sa.LargeBinary(), nullable=False),
        sa.Column("sort_token", sa.LargeBinary(), nullable=False),
        sa.Column("old_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("new_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("by_service", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "table_name", "label", "sequence", name="pk_dynamodb_stream_records"
        ),
    )
    op.create_index("ix_dynamodb_stream_records_created", "dynamodb_stream_records", ["created"])


def downgrade() -> None:
    op.drop_index("ix_dynamodb_stream_records_created", table_name="dynamodb_stream_records")
    op.drop_table("dynamodb_stream_records")
    op.drop_table("dynamodb_streams")
