"""Firehose streams under customer-managed KMS keys (decision 0223's addendum): on
``firehose_streams``, ``sse_status`` (ENABLING, ENABLED, ENABLING_FAILED, DISABLING,
DISABLED), ``sse_failure`` (the last FailureDescription, JSON) and ``sealing_key_arn`` (the
key new records are sealed under). A stream that had encryption started is made ENABLING, so
the deliverer's next pass checks its key and starts sealing under it; the others DISABLED.

Revision ID: 0108
Revises: 0107
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0108"
down_revision: str | None = "0107"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("firehose_streams") as batch:
        batch.add_column(
            sa.Column("sse_status", key_text(), nullable=False, server_default="DISABLED")
        )
        batch.add_column(sa.Column("sse_failure", sa.Text(), nullable=True))
        batch.add_column(sa.Column("sealing_key_arn", sa.Text(), nullable=True))
    op.execute("UPDATE firehose_streams SET sse_status = 'ENABLING' WHERE sse_key_type IS NOT NULL")
    op.create_index("ix_firehose_streams_sse", "firehose_streams", ["sse_status"])


def downgrade() -> None:
    op.drop_index("ix_firehose_streams_sse", table_name="firehose_streams")
    with op.batch_alter_table("firehose_streams") as batch:
        batch.drop_column("sealing_key_arn")
        batch.drop_column("sse_failure")
        batch.drop_column("sse_status")
