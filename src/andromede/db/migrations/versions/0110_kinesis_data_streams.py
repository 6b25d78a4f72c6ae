"""Amazon Kinesis Data Streams (decision 0228): ``kinesis_streams``, each account's streams
with their shards, sequence counter and iterator key, and ``kinesis_records``, their records
sealed, keyed by (account, stream, shard, sequence number). Nothing to backfill: Kinesis was
not served before.

Revision ID: 0110
Revises: 0109
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0110"
down_revision: str | None = "0109"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "kinesis_streams",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("stream_name", key_text(), nullable=False),
        sa.Column("region", key_text(), nullable=False),
        sa.Column("status", key_text(), nullable=False),
        sa.Column("mode", key_text(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("retention_hours", sa.Integer(), nullable=False),
        sa.Column("shards", sa.Text(), nullable=False),
        sa.Column("open_shards", sa.Integer(), nullable=False),
        sa.Column("iterator_key", sa.LargeBinary(), nullable=False),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("encryption_type", key_text(), nullable=False),
        sa.Column("key_id", sa.Text(), nullable=True),
        sa.Column("consumers", sa.Text(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("layout", sa.Integer(), nullable=False),
        sa.Column("next_sequence", sa.BigInteger(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "stream_name", name="pk_kinesis_streams"),
    )
    op.create_table(
        "kinesis_records",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("stream_name", key_text(), nullable=False),
        sa.Column("shard", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("partition_key", sa.Text(), nullable=False),
        sa.Column("arrived", sa.BigInteger(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "stream_name", "shard", "sequence", name="pk_kinesis_records"
        ),
    )
    op.create_index(
        "ix_kinesis_records_arrival", "kinesis_records", ["tenant_id", "stream_name", "arrived"]
    )


def downgrade() -> None:
    op.drop_index("ix_kinesis_records_arrival", table_name="kinesis_records")
    op.drop_table("kinesis_records")
    op.drop_table("kinesis_streams")
