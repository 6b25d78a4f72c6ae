"""Lambda's event source mappings (decision 0295): ``lambda_event_source_mappings``, each
mapping's definition, state and lease. Nothing to backfill: mappings were not served.

Revision ID: 0136
Revises: 0135
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0136"
down_revision: str | None = "0135"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "lambda_event_source_mappings",
        sa.Column("uuid", key_text(), nullable=False),
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("source_arn", sa.Text(), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("lease_owner", key_text(), nullable=False),
        sa.Column("lease_until", sa.BigInteger(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("uuid", name="pk_lambda_event_source_mappings"),
    )
    op.create_index(
        "ix_lambda_event_source_mappings_tenant", "lambda_event_source_mappings", ["tenant_id"]
    )


def downgrade() -> None:
    op.drop_index(
        "ix_lambda_event_source_mappings_tenant", table_name="lambda_event_source_mappings"
    )
    op.drop_table("lambda_event_source_mappings")
