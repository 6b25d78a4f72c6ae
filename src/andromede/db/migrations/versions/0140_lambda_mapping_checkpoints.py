"""Lambda's stream event source mappings (decision 0301): ``lambda_mapping_checkpoints``,
each mapping's place in each shard of its Kinesis or DynamoDB stream. Nothing to backfill:
stream mappings were not served.

Revision ID: 0140
Revises: 0139
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0140"
down_revision: str | None = "0139"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "lambda_mapping_checkpoints",
        sa.Column("uuid", key_text(), nullable=False),
        sa.Column("shard", key_text(), nullable=False),
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("sequence", key_text(), nullable=False),
        sa.PrimaryKeyConstraint("uuid", "shard", name="pk_lambda_mapping_checkpoints"),
    )
    op.create_index(
        "ix_lambda_mapping_checkpoints_tenant", "lambda_mapping_checkpoints", ["tenant_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_lambda_mapping_checkpoints_tenant", table_name="lambda_mapping_checkpoints")
    op.drop_table("lambda_mapping_checkpoints")
