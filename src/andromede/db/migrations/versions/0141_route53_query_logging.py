"""Route 53's query logging configurations (decision 0305): ``route53_query_logging_configs``,
one a hosted zone (unique), naming the log group its queries are written into. Nothing to
backfill: query logging was refused.

Revision ID: 0141
Revises: 0140
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0141"
down_revision: str | None = "0140"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "route53_query_logging_configs",
        sa.Column("config_id", key_text(), nullable=False),
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("zone_id", key_text(), nullable=False),
        sa.Column("group_arn", sa.Text(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("config_id", name="pk_route53_query_logging_configs"),
        sa.UniqueConstraint("zone_id", name="uq_route53_query_logging_configs_zone_id"),
    )
    op.create_index(
        "ix_route53_query_logging_configs_tenant_id",
        "route53_query_logging_configs",
        ["tenant_id"],
    )


def downgrade() -> None:
    op.drop_index(
        "ix_route53_query_logging_configs_tenant_id", table_name="route53_query_logging_configs"
    )
    op.drop_table("route53_query_logging_configs")
