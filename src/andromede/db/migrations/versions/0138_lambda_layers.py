"""Lambda layers (decision 0302): ``lambda_layer_versions`` and ``lambda_layer_content``.
Nothing to backfill: layers were not served, and a function's layers live in its
versions' JSON configuration (absent: none).

Revision ID: 0138
Revises: 0137
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0138"
down_revision: str | None = "0137"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "lambda_layer_versions",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("name", key_text(), nullable=False),
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("code_sha256", key_text(), nullable=False),
        sa.Column("code_size", sa.BigInteger(), nullable=False),
        sa.Column("policy", sa.Text(), nullable=True),
        sa.Column("policy_revision", key_text(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "name", "version", name="pk_lambda_layer_versions"),
    )
    op.create_table(
        "lambda_layer_content",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("name", key_text(), nullable=False),
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "name", "version", name="pk_lambda_layer_content"),
    )


def downgrade() -> None:
    op.drop_table("lambda_layer_content")
    op.drop_table("lambda_layer_versions")
