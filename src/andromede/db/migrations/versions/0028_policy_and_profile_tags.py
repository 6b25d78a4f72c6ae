"""Managed policies and instance profiles get tags (decision 0074): JSON ``[[key, value], …]``,
NULL for none, as users and roles have (0025).

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("managed_policies", "instance_profiles"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("tags", sa.Text(), nullable=True))


def downgrade() -> None:
    for table in ("managed_policies", "instance_profiles"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("tags")
