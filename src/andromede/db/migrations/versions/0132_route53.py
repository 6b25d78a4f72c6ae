"""Amazon Route 53 (decision 0280): ``route53_zones``, each account's hosted zones and their
record sets, ``route53_zone_vpcs``, the VPCs of private zones, and ``route53_changes``.
Nothing to backfill: Route 53 was not served.

Revision ID: 0132
Revises: 0131
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0132"
down_revision: str | None = "0131"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "route53_zones",
        sa.Column("zone_id", key_text(), nullable=False),
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("name", key_text(), nullable=False),
        sa.Column("caller_reference", key_text(), nullable=False),
        sa.Column("private", sa.Boolean(), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("billed_month", sa.Integer(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("zone_id", name="pk_route53_zones"),
        sa.UniqueConstraint(
            "tenant_id",
            "caller_reference",
            name="uq_route53_zones_tenant_id_caller_reference",
        ),
    )
    op.create_table(
        "route53_zone_vpcs",
        sa.Column("zone_id", key_text(), nullable=False),
        sa.Column("vpc_id", key_text(), nullable=False),
        sa.Column("region", key_text(), nullable=False),
        sa.PrimaryKeyConstraint("zone_id", "vpc_id", name="pk_route53_zone_vpcs"),
    )
    op.create_index("ix_route53_zone_vpcs_vpc_id", "route53_zone_vpcs", ["vpc_id"])
    op.create_table(
        "route53_changes",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("change_id", key_text(), nullable=False),
        sa.Column("submitted", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "change_id", name="pk_route53_changes"),
    )


def downgrade() -> None:
    op.drop_table("route53_changes")
    op.drop_index("ix_route53_zone_vpcs_vpc_id", table_name="route53_zone_vpcs")
    op.drop_table("route53_zone_vpcs")
    op.drop_table("route53_zones")
