"""Route 53's DNSSEC signing (decision 0317): ``route53_key_signing_keys`` (a zone's KSKs,
unique by name and by KMS key) and ``route53_zone_signing`` (a zone's signing state and its
zone-signing keys, their private keys sealed). Nothing to backfill: DNSSEC was refused.

Revision ID: 0144
Revises: 0143
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0144"
down_revision: str | None = "0143"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "route53_key_signing_keys",
        sa.Column("zone_id", key_text(), nullable=False),
        sa.Column("name", key_text(), nullable=False),
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("kms_arn", key_text(), nullable=False),
        sa.Column("status", key_text(), nullable=False),
        sa.Column("status_message", sa.Text(), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("caller_reference", sa.Text(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("modified", sa.BigInteger(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("zone_id", "name", name="pk_route53_key_signing_keys"),
        sa.UniqueConstraint(
            "zone_id", "kms_arn", name="uq_route53_key_signing_keys_zone_id_kms_arn"
        ),
    )
    op.create_index(
        "ix_route53_key_signing_keys_tenant_id", "route53_key_signing_keys", ["tenant_id"]
    )
    op.create_table(
        "route53_zone_signing",
        sa.Column("zone_id", key_text(), nullable=False),
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("signing", sa.Boolean(), nullable=False),
        sa.Column("zone_keys", sa.Text(), nullable=False),
        sa.Column("modified", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("zone_id", name="pk_route53_zone_signing"),
    )
    op.create_index("ix_route53_zone_signing_tenant_id", "route53_zone_signing", ["tenant_id"])


def downgrade() -> None:
    op.drop_index("ix_route53_zone_signing_tenant_id", table_name="route53_zone_signing")
    op.drop_table("route53_zone_signing")
    op.drop_index("ix_route53_key_signing_keys_tenant_id", table_name="route53_key_signing_keys")
    op.drop_table("route53_key_signing_keys")
