"""EventBridge archives and replays (decision 0196): ``events_archives`` (one row per archive
of a bus), ``events_archive_events`` (its events, sealed) and ``events_replays`` (one row per
replay, its cursor and its runner's lease). Nothing to backfill: no archive existed before.

Revision ID: 0095
Revises: 0094
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import UtcDateTime, big_id, key_text

revision: str = "0095"
down_revision: str | None = "0094"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "events_archives",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("archive_name", key_text(), nullable=False),
        sa.Column("bus_name", key_text(), nullable=False),
        sa.Column("source_arn", sa.Text(), nullable=False),
        sa.Column("retention_days", sa.Integer(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "archive_name", name="pk_events_archives"),
    )
    op.create_index("ix_events_archives_bus", "events_archives", ["tenant_id", "bus_name"])
    op.create_table(
        "events_archive_events",
        sa.Column("id", big_id(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("archive_name", key_text(), nullable=False),
        sa.Column("event_time", sa.BigInteger(), nullable=False),
        sa.Column("archived_at", sa.BigInteger(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_events_archive_events"),
    )
    op.create_index(
        "ix_events_archive_events_time",
        "events_archive_events",
        ["tenant_id", "archive_name", "event_time", "id"],
    )
    op.create_index(
        "ix_events_archive_events_archived",
        "events_archive_events",
        ["tenant_id", "archive_name", "archived_at"],
    )
    op.create_table(
        "events_replays",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("replay_name", key_text(), nullable=False),
        sa.Column("archive_name", key_text(), nullable=False),
        sa.Column("source_arn", sa.Text(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("state_reason", sa.Text(), nullable=True),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("cursor_time", sa.BigInteger(), nullable=False),
        sa.Column("cursor_id", sa.BigInteger(), nullable=False),
        sa.Column("last_replayed", sa.BigInteger(), nullable=True),
        sa.Column("ended", sa.BigInteger(), nullable=True),
        sa.Column("holder", sa.Text(), nullable=True),
        sa.Column("lease_until", UtcDateTime(), nullable=True),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "replay_name", name="pk_events_replays"),
    )
    op.create_index("ix_events_replays_state", "events_replays", ["state"])


def downgrade() -> None:
    op.drop_index("ix_events_replays_state", table_name="events_replays")
    op.drop_table("events_replays")
    op.drop_index("ix_events_archive_events_archived", table_name="events_archive_events")
    op.drop_index("ix_events_archive_events_time", table_name="events_archive_events")
    op.drop_table("events_archive_events")
    op.drop_index("ix_events_archives_bus", table_name="events_archives")
    op.drop_table("events_archives")
