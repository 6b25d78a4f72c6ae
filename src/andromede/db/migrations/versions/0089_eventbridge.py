"""EventBridge (decision 0192): ``events_buses``, ``events_rules`` and ``events_targets``.
Nothing to backfill: no bus, rule or target existed before.

Revision ID: 0089
Revises: 0088
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0089"
down_revision: str | None = "0088"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "events_buses",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("bus_name", key_text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "bus_name", name="pk_events_buses"),
    )
    op.create_table(
        "events_rules",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("bus_name", key_text(), nullable=False),
        sa.Column("rule_name", key_text(), nullable=False),
        sa.Column("scheduled", sa.Boolean(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "bus_name", "rule_name", name="pk_events_rules"),
    )
    op.create_index("ix_events_rules_scheduled", "events_rules", ["scheduled"])
    op.create_table(
        "events_targets",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("bus_name", key_text(), nullable=False),
        sa.Column("rule_name", key_text(), nullable=False),
        sa.Column("target_id", key_text(), nullable=False),
        sa.Column("target_arn", key_text(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "bus_name", "rule_name", "target_id", name="pk_events_targets"
        ),
    )
    op.create_index(
        "ix_events_targets_arn", "events_targets", ["tenant_id", "bus_name", "target_arn"]
    )


def downgrade() -> None:
    op.drop_index("ix_events_targets_arn", table_name="events_targets")
    op.drop_table("events_targets")
    op.drop_index("ix_events_rules_scheduled", table_name="events_rules")
    op.drop_table("events_rules")
    op.drop_table("events_buses")
