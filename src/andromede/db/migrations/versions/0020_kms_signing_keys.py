"""KMS signing keys: ``kms_keys`` gains ``public_key`` and ``private_key`` (base64; the private
key is a KMS ciphertext blob sealed under the key's own ring in the root-key provider). Both are
NULL for the symmetric keys made so far.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ALTER TABLE on both databases (SQLite has it since 3.35): a batch rebuild of
    # kms_keys would drop and recreate a table that aliases, rotations and grants refer to.
    op.add_column("kms_keys", sa.Column("public_key", sa.Text(), nullable=True))
    op.add_column("kms_keys", sa.Column("private_key", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("kms_keys", "private_key")
    op.drop_column("kms_keys", "public_key")
