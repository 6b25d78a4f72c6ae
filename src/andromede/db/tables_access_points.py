"""S3 access points (decision 0157): one row per access point — its account and name (the
key), its bucket, its alias (unique across accounts: the S3 API resolves it as a bucket
name), its policy and Block Public Access, the VPC it is restricted to (migration 0074; null:
the Internet network origin), its tags (migration 0159).

Part of the one ``MetaData`` (``andromede.db.metadata``); ``andromede.db.tables`` re-exports
it, which the store and the migration import from there.
"""

from __future__ import annotations

import sqlalchemy as sa

from andromede.db.metadata import metadata
from andromede.db.types import UtcDateTime, key_text

__all__ = ["access_points"]

access_points = sa.Table(
    "access_points",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("name", key_text(), primary_key=True),
    sa.Column("bucket", key_text(), nullable=False),
    sa.Column("bucket_account", sa.Text, nullable=False),
    sa.Column("alias", key_text(), nullable=False),
    sa.Column("policy", sa.Text, nullable=True),
    sa.Column("public_access_block", sa.Text, nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("vpc_id", sa.Text, nullable=True),
    sa.Column("tags", sa.Text, nullable=False, server_default="[]"),  # JSON list of pairs
    sa.UniqueConstraint("alias", name="uq_access_points_alias"),
)
sa.Index("ix_access_points_bucket", access_points.c.tenant_id, access_points.c.bucket)
