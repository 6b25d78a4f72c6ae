"""AWS Signer and Lambda's code signing (decision 0386): ``signer_profiles`` (the private key
sealed), ``signer_jobs``, ``lambda_code_signing_configs`` and ``lambda_function_code_signing``.
Nothing to backfill: code signing was refused.

Revision ID: 0156
Revises: 0155
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0156"
down_revision: str | None = "0155"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "signer_profiles",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("name", key_text(), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("sealed_key", sa.LargeBinary(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "name", name="pk_signer_profiles"),
    )
    op.create_table(
        "signer_jobs",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("job_id", key_text(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "job_id", name="pk_signer_jobs"),
    )
    op.create_table(
        "lambda_code_signing_configs",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("config_id", key_text(), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "config_id", name="pk_lambda_code_signing_configs"),
    )
    op.create_table(
        "lambda_function_code_signing",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("name", key_text(), nullable=False),
        sa.Column("config_id", key_text(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "name", name="pk_lambda_function_code_signing"),
    )


def downgrade() -> None:
    for table in (
        "lambda_function_code_signing",
        "lambda_code_signing_configs",
        "signer_jobs",
        "signer_profiles",
    ):
        op.drop_table(table)
