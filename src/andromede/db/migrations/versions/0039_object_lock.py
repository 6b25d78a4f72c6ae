"""S3 Object Lock: a bucket's lock configuration, each version's retention and legal hold
(decision 0102).

Revision ID: 0039
Revises: 0038
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0039"
down_revision: str | None = "0038"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable columns added last: no table rewrite on either database, whatever their size.
    op.add_column("buckets", sa.Column("object_lock", sa.Text(), nullable=True))
    op.add_column("objects", sa.Column("object_lock", sa.Text(), nullable=True))
    op.add_column("object_versions", sa.Column("object_lock", sa.Text(), nullable=True))


def downgrade() -> None:
    # Refused while a bucket has Object Lock: dropping the columns would lift every retention
    # and legal hold, which is what Object Lock promises never happens (as 0038 refuses while
    # versions are kept).
    bind = op.get_bind()
    locked = bind.execute(
        sa.text("SELECT 1 FROM buckets WHERE object_lock IS NOT NULL LIMIT 1")
    ).first()
    if locked is not None:
        raise RuntimeError("a bucket has Object Lock: its retentions cannot be dropped")
    # Plain ALTER TABLE on both databases (SQLite has it since 3.35), as 0038.
    op.execute("ALTER TABLE object_versions DROP COLUMN object_lock")
    op.execute("ALTER TABLE objects DROP COLUMN object_lock")
    op.execute("ALTER TABLE buckets DROP COLUMN object_lock")
