"""CloudWatch Logs log group classes and deletion protection (decision 0222): two columns of
``log_groups``, every existing group ``STANDARD`` and unprotected, as AWS's groups made
before either existed.

Revision ID: 0104
Revises: 0103
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0104"
down_revision: str | None = "0103"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "log_groups",
        sa.Column("log_class", key_text(), nullable=False, server_default="STANDARD"),
    )
    op.add_column(
        "log_groups",
        sa.Column("deletion_protection", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    # Plain ALTER TABLE on both databases (SQLite has it since 3.35), as 0101.
    op.drop_column("log_groups", "deletion_protection")
    op.drop_column("log_groups", "log_class")
