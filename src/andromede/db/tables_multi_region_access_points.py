"""S3 Multi-Region Access Points (decision 0385): one row per Multi-Region Access Point — its
account and name (the key), its alias (unique across accounts: the global host names it), its
Block Public Access, its policy, and its Regions as a JSON list of routes (bucket, the
bucket's account, Region, traffic dial) — and one row per asynchronous request made to manage
them (the request token ARN, the operation, its parameters and its outcome).

Part of the one ``MetaData`` (``andromede.db.metadata``); ``andromede.db.tables`` re-exports
them, which the store and the migration import from there.
"""

from __future__ import annotations

import sqlalchemy as sa

from andromede.db.metadata import metadata
from andromede.db.types import UtcDateTime, key_text

__all__ = ["multi_region_access_point_operations", "multi_region_access_points"]

multi_region_access_points = sa.Table(
    "multi_region_access_points",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("name", key_text(), primary_key=True),
    sa.Column("alias", key_text(), nullable=False),
    sa.Column("routes", sa.Text, nullable=False),
    sa.Column("policy", sa.Text, nullable=True),
    sa.Column("public_access_block", sa.Text, nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("alias", name="uq_multi_region_access_points_alias"),
)

multi_region_access_point_operations = sa.Table(
    "multi_region_access_point_operations",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("token", key_text(), primary_key=True),
    sa.Column("operation", sa.Text, nullable=False),
    sa.Column("parameters", sa.Text, nullable=False),
    sa.Column("regions", sa.Text, nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)
