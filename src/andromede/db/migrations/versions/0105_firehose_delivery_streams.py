"""Amazon Data Firehose (decision 0223): ``firehose_streams``, each account's delivery streams
into S3 with their buffer's totals and the lease of the gateway delivering each, and
``firehose_records``, the records they buffer, sealed. Nothing to backfill: Firehose was not
served before.

Revision ID: 0105
Revises: 0104
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import big_id, key_text

revision: str = "0105"
down_revision: str | None = "0104"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "firehose_streams",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("stream_name", key_text(), nullable=False),
        sa.Column("region", key_text(), nullable=False),
        sa.Column("status", key_text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("updated", sa.BigInteger(), nullable=False),
        sa.Column("destination", sa.Text(), nullable=False),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("sse_key_type", key_text(), nullable=True),
        sa.Column("sse_key_arn", sa.Text(), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("interval_ms", sa.BigInteger(), nullable=False),
        sa.Column("buffered_records", sa.BigInteger(), nullable=False),
        sa.Column("buffered_bytes", sa.BigInteger(), nullable=False),
        sa.Column("oldest_arrival", sa.BigInteger(), nullable=True),
        sa.Column("failing_since", sa.BigInteger(), nullable=True),
        sa.Column("next_attempt", sa.BigInteger(), nullable=False),
        sa.Column("lease_owner", key_text(), nullable=True),
        sa.Column("lease_until", sa.BigInteger(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "stream_name", name="pk_firehose_streams"),
    )
    op.create_index("ix_firehose_streams_due", "firehose_streams", ["status", "oldest_arrival"])
    op.create_table(
        "firehose_records",
        sa.Column("seq", big_id(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("stream_name", key_text(), nullable=False),
        sa.Column("record_id", key_text(), nullable=False),
        sa.Column("arrived", sa.BigInteger(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_firehose_records"),
    )
    op.create_index(
        "ix_firehose_records_stream", "firehose_records", ["tenant_id", "stream_name", "seq"]
    )


def downgrade() -> None:
    op.drop_index("ix_firehose_records_stream", table_name="firehose_records")
    op.drop_table("firehose_records")
    op.drop_index("ix_firehose_streams_due", table_name="firehose_streams")
    op.drop_table("firehose_streams")
