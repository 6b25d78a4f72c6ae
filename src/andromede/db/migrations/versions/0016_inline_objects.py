"""Small objects inline: an object's sealed bytes may live in its own row (``inline_data``)
instead of a blob, so that a small PUT is one durable commit and a small GET one read
(docs/decisions/0028-inline-small-objects.md). Rows written before keep NULL: their bytes stay
in their blobs.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Added last: the store decodes object rows by position, in the table's column order.
    op.add_column("objects", sa.Column("inline_data", sa.LargeBinary, nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        # Ciphertext does not compress: moved out of line past ~2 KB as usual, but without
        # PostgreSQL trying to compress it first on every write.
        op.execute("ALTER TABLE objects ALTER COLUMN inline_data SET STORAGE EXTERNAL")


def downgrade() -> None:
    # Inline objects would lose their bytes: a downgrade refuses while any exists.
    connection = op.get_bind()
    count = connection.execute(
        sa.text("SELECT count(*) FROM objects WHERE inline_data IS NOT NULL")
    ).scalar_one()
    if count:
        raise RuntimeError(
            f"{count} objects are stored inline; rewrite them as blobs before downgrading"
        )
    with op.batch_alter_table("objects") as batch:
        batch.drop_column("inline_data")
