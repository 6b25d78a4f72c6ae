"""Bucket versioning: the bucket's state, the current version's id, the other versions and
their blobs (decision 0097).

Revision ID: 0038
Revises: 0037
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import UtcDateTime, key_text

revision: str = "0038"
down_revision: str | None = "0037"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable columns added last: no table rewrite on either database, whatever their size.
    op.add_column("buckets", sa.Column("versioning", sa.Text(), nullable=True))
    op.add_column("objects", sa.Column("version_id", sa.Text(), nullable=True))
    op.create_table(
        "object_versions",
        sa.Column("bucket", sa.Text(), sa.ForeignKey("buckets.name"), primary_key=True),
        sa.Column("key", key_text(), primary_key=True),
        sa.Column("version_id", sa.Text(), primary_key=True),
        sa.Column("is_null", sa.Boolean(), nullable=False),
        sa.Column("delete_marker", sa.Boolean(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("etag", sa.Text(), nullable=False),
        sa.Column("last_modified", UtcDateTime(), nullable=False),
        sa.Column("owner_id", sa.Text(), nullable=False),
        sa.Column("checksum_algorithm", sa.Text(), nullable=True),
        sa.Column("checksum_type", sa.Text(), nullable=True),
        sa.Column("checksum_value", sa.Text(), nullable=True),
        sa.Column("headers", sa.Text(), nullable=True),
        sa.Column("segments", sa.Text(), nullable=True),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.Column("acl", sa.Text(), nullable=True),
        sa.Column("inline_data", sa.LargeBinary(), nullable=True),
    )
    op.create_table(
        "object_version_blobs",
        sa.Column("blob_id", sa.Text(), primary_key=True),
        sa.Column("bucket", sa.Text(), nullable=False),
        sa.Column("key", key_text(), nullable=False),
        sa.Column("version_id", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    # Refused while a version is kept: dropping them would lose data a customer was told is
    # kept (as 0016 refuses while an object is inline).
    bind = op.get_bind()
    kept = bind.execute(sa.text("SELECT 1 FROM object_versions LIMIT 1")).first()
    versioned = bind.execute(
        sa.text("SELECT 1 FROM objects WHERE version_id IS NOT NULL LIMIT 1")
    ).first()
    if kept is not None or versioned is not None:
        raise RuntimeError("versioned objects are stored: delete their versions first")
    op.drop_table("object_version_blobs")
    op.drop_table("object_versions")
    # Plain ALTER TABLE on both databases (SQLite has it since 3.35), as 0017: a batch rebuild
    # would drop and recreate tables that others refer to.
    op.execute("ALTER TABLE objects DROP COLUMN version_id")
    op.execute("ALTER TABLE buckets DROP COLUMN versioning")
