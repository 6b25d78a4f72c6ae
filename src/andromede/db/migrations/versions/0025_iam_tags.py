"""IAM users and roles get tags (decision 0067): JSON ``[[key, value], …]``, NULL for none.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("users", "iam_roles"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("tags", sa.Text(), nullable=True))


def downgrade() -> None:
    for table in ("users", "iam_roles"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("tags")
