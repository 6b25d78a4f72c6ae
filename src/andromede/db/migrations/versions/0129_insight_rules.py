"""CloudWatch Contributor Insights (decision 0272): ``insight_rules``, each account's rules,
and ``insight_rule_minutes``, their minutes' sealed parts. Nothing to backfill: insight rules
were not served.

Revision ID: 0129
Revises: 0128
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0129"
down_revision: str | None = "0128"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "insight_rules",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("rule_name", key_text(), nullable=False),
        sa.Column("state", key_text(), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("transformed_logs", sa.Boolean(), nullable=False),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "rule_name", name="pk_insight_rules"),
    )
    op.create_index("ix_insight_rules_state", "insight_rules", ["state"])
    op.create_table(
        "insight_rule_minutes",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("rule_name", key_text(), nullable=False),
        sa.Column("minute", sa.BigInteger(), nullable=False),
        sa.Column("part_id", key_text(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "rule_name", "minute", "part_id", name="pk_insight_rule_minutes"
        ),
    )
    op.create_index("ix_insight_rule_minutes_minute", "insight_rule_minutes", ["minute"])


def downgrade() -> None:
    op.drop_index("ix_insight_rule_minutes_minute", table_name="insight_rule_minutes")
    op.drop_table("insight_rule_minutes")
    op.drop_index("ix_insight_rules_state", table_name="insight_rules")
    op.drop_table("insight_rules")
