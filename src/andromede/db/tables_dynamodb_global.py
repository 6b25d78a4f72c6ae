"""DynamoDB global tables' replication (decision 0265, migration 0127):
``dynamodb_global_members`` (each global table's regions and, per region, where its
replicator stands in that region's stream), ``dynamodb_global_leases`` (the gateway
replicating a global table), ``dynamodb_global_clocks`` (per region and item, the time,
origin region and row digest of the write that holds it: last writer wins) and
``dynamodb_global_applied`` (digests of the rows the replicator wrote, so that their stream
records are not replicated again). Nothing sealed is kept: items stay in ``dynamodb_items``.

Part of the one ``MetaData`` (``andromede.db.metadata``); ``andromede.db.tables`` re-exports
every table.
"""

from __future__ import annotations

import sqlalchemy as sa

from andromede.db.metadata import metadata
from andromede.db.types import key_text

__all__ = [
    "dynamodb_global_applied",
    "dynamodb_global_clocks",
    "dynamodb_global_leases",
    "dynamodb_global_members",
]

dynamodb_global_members = sa.Table(
    "dynamodb_global_members",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("table_name", key_text(), primary_key=True),
    sa.Column("region", key_text(), primary_key=True),
    sa.Column("label", key_text(), nullable=False),  # the region's stream
    sa.Column("sequence", sa.BigInteger, nullable=False),  # the next record to replicate
    sa.Column("format_version", sa.Integer, nullable=False),
)

dynamodb_global_leases = sa.Table(
    "dynamodb_global_leases",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("table_name", key_text(), primary_key=True),
    sa.Column("owner", key_text(), nullable=False),
    sa.Column("lease_until", sa.BigInteger, nullable=False),  # ms
)

dynamodb_global_clocks = sa.Table(
    "dynamodb_global_clocks",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("table_name", key_text(), primary_key=True),
    sa.Column("region", key_text(), primary_key=True),
    sa.Column("hash_token", sa.LargeBinary, primary_key=True),
    sa.Column("sort_token", sa.LargeBinary, primary_key=True),
    sa.Column("time", sa.BigInteger, nullable=False),  # ms
    sa.Column("origin", key_text(), nullable=False),
    sa.Column("row_digest", sa.LargeBinary, nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
)

dynamodb_global_applied = sa.Table(
    "dynamodb_global_applied",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("table_name", key_text(), primary_key=True),
    sa.Column("region", key_text(), primary_key=True),
    sa.Column("digest", sa.LargeBinary, primary_key=True),
    sa.Column("created", sa.BigInteger, nullable=False),  # ms
    sa.Index("ix_dynamodb_global_applied_created", "created"),
)
