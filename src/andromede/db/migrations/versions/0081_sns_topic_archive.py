"""SNS FIFO topics' message archive and replay (decision 0175): ``topic_archive``, each
archived message sealed under its tenant's key, kept until its expiry; ``topic_replays``, a
subscription's replay of its topic's archive and how far it went. Topics' tags live in their
JSON document: no column. Nothing is backfilled: no topic had an archive before.

Revision ID: 0081
Revises: 0080
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import UtcDateTime, big_id, key_text

revision: str = "0081"
down_revision: str | None = "0080"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "topic_archive",
        sa.Column("id", big_id(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("topic_arn", key_text(), nullable=False),
        sa.Column("published_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_topic_archive"),
    )
    op.create_index("ix_topic_archive_expires_at", "topic_archive", ["expires_at"])
    op.create_index("ix_topic_archive_topic_arn_id", "topic_archive", ["topic_arn", "id"])
    op.create_table(
        "topic_replays",
        sa.Column("subscription_arn", key_text(), nullable=False),
        sa.Column("topic_arn", key_text(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("starting", UtcDateTime(), nullable=False),
        sa.Column("ending", UtcDateTime(), nullable=True),
        sa.Column("cursor", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("subscription_arn", name="pk_topic_replays"),
    )
    op.create_index("ix_topic_replays_status", "topic_replays", ["status"])


def downgrade() -> None:
    # The archive goes with its tables: the release before keeps none, and its topics'
    # ArchivePolicy is refused there (the attribute stays in the topics' documents, unread).
    op.drop_index("ix_topic_replays_status", "topic_replays")
    op.drop_table("topic_replays")
    op.drop_index("ix_topic_archive_topic_arn_id", "topic_archive")
    op.drop_index("ix_topic_archive_expires_at", "topic_archive")
    op.drop_table("topic_archive")
