"""Recursive loop detection through SNS and S3 (decision 0336): the caller's trace header
kept with each queued notification event of ``notification_events`` (``trace``) — a
message published to a topic, a bucket's event of a write —, whose lineage the delivery
passes on to the function, queue or subscription it reaches. Nothing to backfill: an event
queued before carries none, as a caller that sent no header.

Revision ID: 0149
Revises: 0148
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0149"
down_revision: str | None = "0148"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("notification_events") as batch:
        batch.add_column(sa.Column("trace", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notification_events") as batch:
        batch.drop_column("trace")
