"""Systems Manager Parameter Store (decision 0229): ``ssm_parameters`` and
``ssm_parameter_versions``. Nothing to backfill: no parameter existed before.

Revision ID: 0111
Revises: 0110
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0111"
down_revision: str | None = "0110"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ssm_parameters",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("region", key_text(), nullable=False),
        sa.Column("name", key_text(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("tier", sa.Text(), nullable=False),
        sa.Column("expires", sa.BigInteger(), nullable=True),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "region", "name", name="pk_ssm_parameters"),
    )
    op.create_index("ix_ssm_parameters_expires", "ssm_parameters", ["expires"])
    op.create_table(
        "ssm_parameter_versions",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("region", key_text(), nullable=False),
        sa.Column("name", key_text(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("modified", sa.BigInteger(), nullable=False),
        sa.Column("modified_user", sa.Text(), nullable=False),
        sa.Column("tier", sa.Text(), nullable=False),
        sa.Column("data_type", sa.Text(), nullable=False),
        sa.Column("key_id", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("allowed_pattern", sa.Text(), nullable=True),
        sa.Column("labels", sa.Text(), nullable=False),
        sa.Column("policies", sa.Text(), nullable=True),
        sa.Column("expires", sa.BigInteger(), nullable=True),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "region", "name", "version", name="pk_ssm_parameter_versions"
        ),
    )


def downgrade() -> None:
    op.drop_table("ssm_parameter_versions")
    op.drop_index("ix_ssm_parameters_expires", table_name="ssm_parameters")
    op.drop_table("ssm_parameters")
