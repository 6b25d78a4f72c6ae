"""Lambda's provisioned concurrency (decision 0314): ``lambda_provisioned_concurrency``, one
row per function and qualifier. Nothing to backfill: provisioned concurrency was refused.

Revision ID: 0143
Revises: 0142
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0143"
down_revision: str | None = "0142"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "lambda_provisioned_concurrency",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("name", key_text(), nullable=False),
        sa.Column("qualifier", key_text(), nullable=False),
        sa.Column("requested", sa.Integer, nullable=False),
        sa.Column("last_modified", sa.BigInteger, nullable=False),
        sa.Column("status", key_text(), nullable=False),
        sa.Column("status_reason", sa.Text, nullable=False),
        sa.Column("allocated", sa.Integer, nullable=False),
        sa.Column("format_version", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "name", "qualifier", name="pk_lambda_provisioned_concurrency"
        ),
    )


def downgrade() -> None:
    op.drop_table("lambda_provisioned_concurrency")
