"""Kinesis Data Streams as Firehose's source and Logs' destination (decision 0235): on
``firehose_streams``, ``source`` (a ``KinesisStreamAsSource`` stream's source, JSON; NULL for
Direct PUT) and the lease of the gateway reading it (``reader_owner``, ``reader_until``);
``firehose_source_checkpoints``, where each source shard's reading stands; on
``log_subscription_outbox``, ``partition_key`` (a Kinesis destination's). Nothing to
backfill: every existing stream is Direct PUT, every waiting record Firehose's.

Revision ID: 0114
Revises: 0113
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0114"
down_revision: str | None = "0113"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("firehose_streams") as batch:
        batch.add_column(sa.Column("source", sa.Text(), nullable=True))
        batch.add_column(sa.Column("reader_owner", key_text(), nullable=True))
        batch.add_column(
            sa.Column("reader_until", sa.BigInteger(), nullable=False, server_default="0")
        )
    op.create_table(
        "firehose_source_checkpoints",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("stream_name", key_text(), nullable=False),
        sa.Column("shard_id", key_text(), nullable=False),
        sa.Column("sequence", sa.Text(), nullable=True),
        sa.Column("finished", sa.Boolean(), nullable=False),
        sa.Column("updated", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "stream_name", "shard_id"),
    )
    with op.batch_alter_table("log_subscription_outbox") as batch:
        batch.add_column(sa.Column("partition_key", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("log_subscription_outbox") as batch:
        batch.drop_column("partition_key")
    op.drop_table("firehose_source_checkpoints")
    with op.batch_alter_table("firehose_streams") as batch:
        batch.drop_column("reader_until")
        batch.drop_column("reader_owner")
        batch.drop_column("source")
