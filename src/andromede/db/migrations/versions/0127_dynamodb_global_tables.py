"""DynamoDB global tables (decision 0265): ``dynamodb_global_members``,
``dynamodb_global_leases``, ``dynamodb_global_clocks`` and ``dynamodb_global_applied`` (the
replicas themselves are in their tables' definitions, one table per region).

Revision ID: 0127
Revises: 0126
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0127"
down_revision: str | None = "0126"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dynamodb_global_members",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("table_name", key_text(), nullable=False),
        sa.Column("region", key_text(), nullable=False),
        sa.Column("label", key_text(), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "table_name", "region", name="pk_dynamodb_global_members"
        ),
    )
    op.create_table(
        "dynamodb_global_leases",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("table_name", key_text(), nullable=False),
        sa.Column("owner", key_text(), nullable=False),
        sa.Column("lease_until", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "table_name", name="pk_dynamodb_global_leases"),
    )
    op.create_table(
        "dynamodb_global_clocks",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("table_name", key_text(), nullable=False),
        sa.Column("region", key_text(), nullable=False),
        sa.Column("hash_token", sa.LargeBinary(), nullable=False),
        sa.Column("sort_token", sa.LargeBinary(), nullable=False),
        sa.Column("time", sa.BigInteger(), nullable=False),
        sa.Column("origin", key_text(), nullable=False),
        sa.Column("row_digest", sa.LargeBinary(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id",
            "table_name",
            "region",
            "hash_token",
            "sort_token",
            name="pk_dynamodb_global_clocks",
        ),
    )
    op.create_table(
        "dynamodb_global_applied",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("table_name", key_text(), nullable=False),
        sa.Column("region", key_text(), nullable=False),
        sa.Column("digest", sa.LargeBinary(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "table_name", "region", "digest", name="pk_dynamodb_global_applied"
        ),
    )
    op.create_index("ix_dynamodb_global_applied_created", "dynamodb_global_applied", ["created"])


def downgrade() -> None:
    op.drop_index("ix_dynamodb_global_applied_created", table_name="dynamodb_global_applied")
    op.drop_table("dynamodb_global_applied")
    op.drop_table("dynamodb_global_clocks")
    op.drop_table("dynamodb_global_leases")
    op.drop_table("dynamodb_global_members")
