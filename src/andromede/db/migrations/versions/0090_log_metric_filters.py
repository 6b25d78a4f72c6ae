"""CloudWatch Logs metric filters and resource policies (decision 0186, session 48 addendum):
``log_metric_filters``, each group's filters with their transformation, and
``log_resource_policies``, each account's policies for services. Nothing to backfill:
neither was served before.

Revision ID: 0090
Revises: 0089
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0090"
down_revision: str | None = "0089"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "log_metric_filters",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("group_name", key_text(), nullable=False),
        sa.Column("filter_name", key_text(), nullable=False),
        sa.Column("filter_pattern", sa.Text(), nullable=False),
        sa.Column("metric_name", key_text(), nullable=False),
        sa.Column("metric_namespace", key_text(), nullable=False),
        sa.Column("transformation", sa.Text(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "group_name", "filter_name", name="pk_log_metric_filters"
        ),
    )
    op.create_index(
        "ix_log_metric_filters_metric",
        "log_metric_filters",
        ["tenant_id", "metric_namespace", "metric_name"],
    )

    op.create_table(
        "log_resource_policies",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("policy_name", key_text(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("updated", sa.BigInteger(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "policy_name", name="pk_log_resource_policies"),
    )


def downgrade() -> None:
    op.drop_table("log_resource_policies")
    op.drop_index("ix_log_metric_filters_metric", table_name="log_metric_filters")
    op.drop_table("log_metric_filters")
