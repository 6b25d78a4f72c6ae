"""IAM users and roles get a permissions boundary: the ARN of a managed policy capping what
their identity policies can allow (decision 0065). Nullable: none is the default.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("users", "iam_roles"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("permissions_boundary", sa.Text(), nullable=True))


def downgrade() -> None:
    for table in ("users", "iam_roles"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("permissions_boundary")
