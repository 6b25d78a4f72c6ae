"""Noncurrent versions' inline bytes stored like current objects' on PostgreSQL: out of line
past ~2 KB without a compression attempt first (``SET STORAGE EXTERNAL``, as migration 0016
set for ``objects.inline_data``). Sealed bytes do not compress, and a version is written when
an object is overwritten in a versioned bucket: each such write paid PostgreSQL's failed
compression attempt on the old row's bytes. A storage setting only: no row changes, and
SQLite has no such setting.

Revision ID: 0045
Revises: 0044
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0045"
down_revision: str | None = "0044"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE object_versions ALTER COLUMN inline_data SET STORAGE EXTERNAL")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # PostgreSQL's default for bytea.
        op.execute("ALTER TABLE object_versions ALTER COLUMN inline_data SET STORAGE EXTENDED")
