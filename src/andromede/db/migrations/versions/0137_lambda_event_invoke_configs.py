"""Lambda's asynchronous invocation configurations (decision 0300):
``lambda_event_invoke_configs``, one row per function and qualifier. Nothing to backfill:
they were not served.

Revision ID: 0137
Revises: 0136
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0137"
down_revision: str | None = "0136"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "lambda_event_invoke_configs",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("name", key_text(), nullable=False),
        sa.Column("qualifier", key_text(), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "name", "qualifier", name="pk_lambda_event_invoke_configs"
        ),
    )


def downgrade() -> None:
    op.drop_table("lambda_event_invoke_configs")
