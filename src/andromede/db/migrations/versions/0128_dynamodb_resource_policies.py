"""DynamoDB resource policies (decision 0266): ``dynamodb_resource_policies``.

Revision ID: 0128
Revises: 0127
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0128"
down_revision: str | None = "0127"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dynamodb_resource_policies",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("resource_arn", key_text(), nullable=False),
        sa.Column("table_name", key_text(), nullable=False),
        sa.Column("table_created", sa.BigInteger(), nullable=False),
        sa.Column("policy", sa.Text(), nullable=False),
        sa.Column("revision_id", key_text(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "resource_arn", name="pk_dynamodb_resource_policies"),
    )
    op.create_index(
        "ix_dynamodb_resource_policies_table",
        "dynamodb_resource_policies",
        ["tenant_id", "table_name"],
    )


def downgrade() -> None:
    op.drop_index("ix_dynamodb_resource_policies_table", table_name="dynamodb_resource_policies")
    op.drop_table("dynamodb_resource_policies")
