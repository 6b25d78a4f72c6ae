"""S3 Requester Pays (decision 0133): who pays for a bucket's requests and transfers, a column
of the bucket row that every request reads.

Revision ID: 0055
Revises: 0054
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0055"
down_revision: str | None = "0054"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A nullable column added last (NULL: the owner pays): no table rewrite on either
    # database, whatever its size, and nothing to fill in for existing buckets.
    op.add_column("buckets", sa.Column("request_payer", sa.Text(), nullable=True))


def downgrade() -> None:
    # Plain ALTER TABLE on both databases (SQLite has it since 3.35), as 0038. Requester Pays
    # buckets go back to the owner paying: no data is lost, only who is billed.
    op.execute("ALTER TABLE buckets DROP COLUMN request_payer")
