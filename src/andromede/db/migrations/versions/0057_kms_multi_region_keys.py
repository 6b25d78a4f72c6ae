"""Multi-Region KMS keys (decision 0138): a key's role in its region (PRIMARY or REPLICA,
NULL for a single-Region key), and a primary's waiting period while it waits for its
replicas to be deleted (PendingReplicaDeletion). Both NULL for every existing key, which
stays single-Region.

Revision ID: 0057
Revises: 0056
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0057"
down_revision: str | None = "0056"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("kms_keys") as batch:
        batch.add_column(sa.Column("multi_region_type", sa.Text(), nullable=True))
        batch.add_column(sa.Column("pending_window_days", sa.Integer(), nullable=True))


def downgrade() -> None:
    # Without the columns a multi-Region key would read as a single-Region key whose record
    # id is not its key id: refused while one exists (delete them first).
    bind = op.get_bind()
    count = bind.execute(
        sa.text("SELECT COUNT(*) FROM kms_keys WHERE multi_region_type IS NOT NULL")
    ).scalar_one()
    if count:
        raise RuntimeError(
            f"{count} multi-Region KMS key record(s) exist: delete them before downgrading"
        )
    with op.batch_alter_table("kms_keys") as batch:
        batch.drop_column("pending_window_days")
        batch.drop_column("multi_region_type")
