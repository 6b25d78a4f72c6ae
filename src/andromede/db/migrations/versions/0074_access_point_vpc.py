"""Access points restricted to a VPC (decision 0157's addendum): ``access_points.vpc_id``,
null for the Internet network origin — which every existing access point has, so nothing is
backfilled.

Revision ID: 0074
Revises: 0073
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0074"
down_revision: str | None = "0073"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("access_points") as batch:
        batch.add_column(sa.Column("vpc_id", sa.Text(), nullable=True))


def downgrade() -> None:
    # Dropping the column would open a VPC-only access point to the Internet: refused while
    # one exists.
    bind = op.get_bind()
    restricted = bind.execute(
        sa.text("SELECT COUNT(*) FROM access_points WHERE vpc_id IS NOT NULL")
    ).scalar()
    if restricted:
        raise RuntimeError("access_points restricted to a VPC exist: the downgrade would open them")
    with op.batch_alter_table("access_points") as batch:
        batch.drop_column("vpc_id")
