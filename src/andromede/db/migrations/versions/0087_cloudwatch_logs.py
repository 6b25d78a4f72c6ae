"""CloudWatch Logs (decision 0186): ``log_groups``, ``log_streams`` and ``log_events`` (each
event's message sealed). Nothing to backfill: no log group existed before.

Revision ID: 0087
Revises: 0086
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import big_id, key_text

revision: str = "0087"
down_revision: str | None = "0086"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "log_groups",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("group_name", key_text(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("retention_days", sa.Integer(), nullable=True),
        sa.Column("kms_key_id", sa.Text(), nullable=True),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("stored_bytes", sa.BigInteger(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "group_name", name="pk_log_groups"),
    )
    op.create_table(
        "log_streams",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("group_name", key_text(), nullable=False),
        sa.Column("stream_name", key_text(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("first_event", sa.BigInteger(), nullable=True),
        sa.Column("last_event", sa.BigInteger(), nullable=True),
        sa.Column("last_ingestion", sa.BigInteger(), nullable=True),
        sa.Column("stored_bytes", sa.BigInteger(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "group_name", "stream_name", name="pk_log_streams"),
    )
    op.create_table(
        "log_events",
        sa.Column("seq", big_id(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("group_name", key_text(), nullable=False),
        sa.Column("stream_name", key_text(), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("ingestion", sa.BigInteger(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_log_events"),
    )
    op.create_index(
        "ix_log_events_stream_time",
        "log_events",
        ["tenant_id", "group_name", "stream_name", "timestamp"],
    )
    op.create_index(
        "ix_log_events_group_time", "log_events", ["tenant_id", "group_name", "timestamp"]
    )


def downgrade() -> None:
    op.drop_index("ix_log_events_group_time", table_name="log_events")
    op.drop_index("ix_log_events_stream_time", table_name="log_events")
    op.drop_table("log_events")
    op.drop_table("log_streams")
    op.drop_table("log_groups")
