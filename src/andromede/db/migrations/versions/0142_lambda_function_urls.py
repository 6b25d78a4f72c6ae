"""Lambda's function URLs (decision 0312): ``lambda_function_urls``, one row per function
and qualifier, its url-id unique. Nothing to backfill: function URLs were refused.

Revision ID: 0142
Revises: 0141
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0142"
down_revision: str | None = "0141"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "lambda_function_urls",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("name", key_text(), nullable=False),
        sa.Column("qualifier", key_text(), nullable=False),
        sa.Column("url_id", key_text(), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "name", "qualifier", name="pk_lambda_function_urls"),
        sa.UniqueConstraint("url_id", name="uq_lambda_function_urls_url_id"),
    )


def downgrade() -> None:
    op.drop_table("lambda_function_urls")
