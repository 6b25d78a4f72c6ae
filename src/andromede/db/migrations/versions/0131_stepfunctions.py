"""AWS Step Functions (decision 0271): ``stepfunctions_state_machines``.

Revision ID: 0131
Revises: 0126
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0131"
down_revision: str | None = "0126"
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


def downgrade() -> None:
    op.drop_table("stepfunctions_state_machines")
