"""Route 53's traffic policies (decision 0330): ``route53_traffic_policies`` (one row a policy
version) and ``route53_traffic_policy_instances`` (an instance's zone, name, TTL and policy
version; its record sets are in the zone's definition). Nothing to backfill: traffic
policies were refused.

Revision ID: 0148
Revises: 0147
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0148"
down_revision: str | None = "0147"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "route53_traffic_policies",
        sa.Column("policy_id", key_text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("type", key_text(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("policy_id", "version", name="pk_route53_traffic_policies"),
    )
    op.create_index(
        "ix_route53_traffic_policies_tenant_id", "route53_traffic_policies", ["tenant_id"]
    )
    op.create_table(
        "route53_traffic_policy_instances",
        sa.Column("instance_id", key_text(), nullable=False),
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("zone_id", key_text(), nullable=False),
        sa.Column("name", key_text(), nullable=False),
        sa.Column("ttl", sa.BigInteger(), nullable=False),
        sa.Column("policy_id", key_text(), nullable=False),
        sa.Column("policy_version", sa.Integer(), nullable=False),
        sa.Column("policy_type", key_text(), nullable=False),
        sa.Column("state", key_text(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("instance_id", name="pk_route53_traffic_policy_instances"),
    )
    op.create_index(
        "ix_route53_traffic_policy_instances_tenant_id",
        "route53_traffic_policy_instances",
        ["tenant_id"],
    )


def downgrade() -> None:
    op.drop_index(
        "ix_route53_traffic_policy_instances_tenant_id",
        table_name="route53_traffic_policy_instances",
    )
    op.drop_table("route53_traffic_policy_instances")
    op.drop_index("ix_route53_traffic_policies_tenant_id", table_name="route53_traffic_policies")
    op.drop_table("route53_traffic_policies")
