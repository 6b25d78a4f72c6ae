"""Parameter Store's resource policies (decision 0249): ``ssm_resource_policies``. Nothing to
backfill: no parameter carried one before.

Revision ID: 0118
Revises: 0117
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0118"
down_revision: str | None = "0117"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ssm_resource_policies",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("region", key_text(), nullable=False),
        sa.Column("name", key_text(), nullable=False),
        sa.Column("policy_id", key_text(), nullable=False),
        sa.Column("policy_hash", sa.Text(), nullable=False),
        sa.Column("policy", sa.Text(), nullable=False),
        sa.Column("accounts", sa.Text(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "region", "name", "policy_id", name="pk_ssm_resource_policies"
        ),
    )
    op.create_index("ix_ssm_resource_policies_region", "ssm_resource_policies", ["region"])


def downgrade() -> None:
    op.drop_index("ix_ssm_resource_policies_region", table_name="ssm_resource_policies")
    op.drop_table("ssm_resource_policies")
