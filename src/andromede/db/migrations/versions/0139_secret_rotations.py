"""Secrets Manager rotation (decision 0303): ``secret_rotations``, each secret's rotation
function, rules, last and next rotation, pending version and lease. Nothing to backfill:
rotation was refused before.

Revision ID: 0139
Revises: 0138
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0139"
down_revision: str | None = "0138"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "secret_rotations",
        sa.Column("secret_arn", key_text(), nullable=False),
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("region", key_text(), nullable=False),
        sa.Column("function_arn", sa.Text(), nullable=True),
        sa.Column("rules", sa.Text(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("last_rotated", sa.BigInteger(), nullable=True),
        sa.Column("next_rotation", sa.BigInteger(), nullable=True),
        sa.Column("token", sa.Text(), nullable=True),
        sa.Column("failure", sa.Text(), nullable=True),
        sa.Column("lease_owner", key_text(), nullable=False),
        sa.Column("lease_until", sa.BigInteger(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("secret_arn", name="pk_secret_rotations"),
    )
    op.create_index("ix_secret_rotations_due", "secret_rotations", ["enabled", "next_rotation"])


def downgrade() -> None:
    op.drop_index("ix_secret_rotations_due", table_name="secret_rotations")
    op.drop_table("secret_rotations")
