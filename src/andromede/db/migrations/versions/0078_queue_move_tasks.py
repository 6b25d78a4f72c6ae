"""SQS message move tasks (decision 0165), and the queue each dead-lettered message came from.
Nothing is backfilled: no task existed before, and a message dead-lettered before has no
recorded source (a task moves it back to its dead-letter queue's only source queue).

Revision ID: 0078
Revises: 0077
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import UtcDateTime, key_text

revision: str = "0078"
down_revision: str | None = "0077"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "queue_move_tasks",
        sa.Column("task_id", key_text(), nullable=False),
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("source_arn", key_text(), nullable=False),
        sa.Column("destination_arn", sa.Text(), nullable=True),
        sa.Column("rate", sa.Integer(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("active", sa.Integer(), nullable=True),
        sa.Column("moved", sa.BigInteger(), nullable=False),
        sa.Column("to_move", sa.BigInteger(), nullable=False),
        sa.Column("failure", sa.Text(), nullable=True),
        sa.Column("started_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("task_id", name="pk_queue_move_tasks"),
        sa.UniqueConstraint(
            "tenant_id",
            "source_arn",
            "active",
            name="uq_queue_move_tasks_tenant_id_source_arn_active",
        ),
    )
    op.create_index(
        "ix_queue_move_tasks_status_updated_at", "queue_move_tasks", ["status", "updated_at"]
    )
    with op.batch_alter_table("queue_messages") as batch:
        batch.add_column(sa.Column("dead_letter_source", key_text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("queue_messages") as batch:
        batch.drop_column("dead_letter_source")
    op.drop_index("ix_queue_move_tasks_status_updated_at", table_name="queue_move_tasks")
    op.drop_table("queue_move_tasks")
