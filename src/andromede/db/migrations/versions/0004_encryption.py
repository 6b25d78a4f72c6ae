"""Encryption at rest: bucket default encryption, and the wrapped data key of each part.

Objects keep their wrapped data keys in the segments JSON and their sealed headers in the
headers JSON (record format 2), so only two columns are new. Objects and parts stored before
this revision are plaintext; an Alembic migration cannot reach the root-key provider, so they
are re-encrypted by the server's start-up job (``object_keys.reencrypt_legacy_objects``), not
here (docs/decisions/0011-encryption-in-the-object-path.md).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("buckets") as batch:
        batch.add_column(sa.Column("encryption", sa.Text(), nullable=True))
    with op.batch_alter_table("parts") as batch:
        batch.add_column(sa.Column("key", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("parts") as batch:
        batch.drop_column("key")
    with op.batch_alter_table("buckets") as batch:
        batch.drop_column("encryption")
