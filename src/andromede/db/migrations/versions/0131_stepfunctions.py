"""AWS Step Functions (decision 0271): ``stepfunctions_state_machines``,
``stepfunctions_executions``, ``stepfunctions_history``, ``stepfunctions_activities``.

Revision ID: 0131
Revises: 0130
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0131"
down_revision: str | None = "0130"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stepfunctions_state_machines",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("region", key_text(), nullable=False),
        sa.Column("machine_name", key_text(), nullable=False),
        sa.Column("machine_type", key_text(), nullable=False),
        sa.Column("role_arn", sa.Text(), nullable=False),
        sa.Column("definition_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("settings", sa.Text(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("updated", sa.BigInteger(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "region", "machine_name", name="pk_stepfunctions_state_machines"
        ),
    )
    op.create_table(
        "stepfunctions_executions",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("region", key_text(), nullable=False),
        sa.Column("machine_name", key_text(), nullable=False),
        sa.Column("execution_name", key_text(), nullable=False),
        sa.Column("status", key_text(), nullable=False),
        sa.Column("started", sa.BigInteger(), nullable=False),
        sa.Column("stopped", sa.BigInteger(), nullable=True),
        sa.Column("wake_at", sa.BigInteger(), nullable=False),
        sa.Column("role_arn", sa.Text(), nullable=False),
        sa.Column("revision_id", key_text(), nullable=False),
        sa.Column("transitions", sa.Integer(), nullable=False),
        sa.Column("event_count", sa.Integer(), nullable=False),
        sa.Column("document_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("lease_owner", key_text(), nullable=True),
        sa.Column("lease_until", sa.BigInteger(), nullable=False),
        sa.Column("waiting_activity", key_text(), nullable=True),
        sa.Column("activity_taken", sa.Boolean(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "region", "machine_name", "execution_name",
            name="pk_stepfunctions_executions",
        ),
    )  # fmt: skip
    op.create_index(
        "ix_stepfunctions_executions_due",
        "stepfunctions_executions",
        ["region", "status", "wake_at"],
    )
    op.create_index(
        "ix_stepfunctions_executions_activity",
        "stepfunctions_executions",
        ["tenant_id", "region", "waiting_activity"],
    )
    op.create_table(
        "stepfunctions_activities",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("region", key_text(), nullable=False),
        sa.Column("activity_name", key_text(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "region", "activity_name", name="pk_stepfunctions_activities"
        ),
    )
    op.create_table(
        "stepfunctions_history",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("region", key_text(), nullable=False),
        sa.Column("machine_name", key_text(), nullable=False),
        sa.Column("execution_name", key_text(), nullable=False),
        sa.Column("first_event", sa.Integer(), nullable=False),
        sa.Column("events_sealed", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "region", "machine_name", "execution_name", "first_event",
            name="pk_stepfunctions_history",
        ),
    )  # fmt: skip


def downgrade() -> None:
    op.drop_table("stepfunctions_activities")
    op.drop_index("ix_stepfunctions_executions_activity", table_name="stepfunctions_executions")
    op.drop_table("stepfunctions_history")
    op.drop_index("ix_stepfunctions_executions_due", table_name="stepfunctions_executions")
    op.drop_table("stepfunctions_executions")
    op.drop_table("stepfunctions_state_machines")
