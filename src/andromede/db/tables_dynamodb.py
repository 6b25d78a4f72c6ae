"""Amazon DynamoDB (decision 0237, migration 0115): ``dynamodb_tables`` (each account's
tables: key schema, billing, tags and time to live as JSON, the wrapped data key their items
are sealed and their hash keys MACed under) and ``dynamodb_items`` (each item sealed, keyed by
its hash key's MAC and its sort key's sortable encoding; its size, revision and expiry);
``dynamodb_index_entries`` (decision 0243, migration 0116: an item's place in each secondary
index: the index hash key's MAC, the index sort key's sortable encoding and the item's two
tokens, nothing sealed: the item is read from ``dynamodb_items``);
``dynamodb_kinesis_queue`` and ``dynamodb_kinesis_leases`` (decision 0262, migration 0126:
each table's item changes still to put into its Kinesis streaming destinations, sealed as its
items, and the lease of the gateway forwarding them);
``dynamodb_streams`` and ``dynamodb_stream_records`` (decision 0246, migration 0119: each
table's streams, with a copy of the table's wrapped key and their iterator key, and their
change records, whose images are the items' sealed bytes);
``dynamodb_backups`` and ``dynamodb_backup_items`` (decision 0253, migration 0121: each
on-demand backup with its table's definition and wrapped key as they were, and the sealed rows
copied from ``dynamodb_items``; ``dynamodb_item_versions``: the item history of the tables
with point-in-time recovery on, each version the item's sealed row or a removal).
``dynamodb_transaction_tokens`` (decision 0259, migration 0122: a write transaction's
``ClientRequestToken`` per account, the MAC of its request, whether its transaction
succeeded and when it lapses).

Part of the one ``MetaData`` (``andromede.db.metadata``); ``andromede.db.tables`` re-exports
every table.
"""

from __future__ import annotations

import sqlalchemy as sa

from andromede.db.metadata import metadata
from andromede.db.types import big_id, key_text

__all__ = [
    "dynamodb_backup_items",
    "dynamodb_backups",
    "dynamodb_index_entries",
    "dynamodb_item_versions",
    "dynamodb_items",
    "dynamodb_kinesis_leases",
    "dynamodb_kinesis_queue",
    "dynamodb_stream_records",
    "dynamodb_streams",
    "dynamodb_tables",
    "dynamodb_transaction_tokens",
]

dynamodb_tables = sa.Table(
    "dynamodb_tables",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("table_name", key_text(), primary_key=True),
    sa.Column("region", key_text(), nullable=False),
    sa.Column("created", sa.BigInteger, nullable=False),  # ms
    sa.Column("definition", sa.Text, nullable=False),  # JSON
    sa.Column("wrapped_key", sa.LargeBinary, nullable=False),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
)

dynamodb_items = sa.Table(
    "dynamodb_items",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("table_name", key_text(), primary_key=True),
    sa.Column("hash_token", sa.LargeBinary, primary_key=True),
    sa.Column("sort_token", sa.LargeBinary, primary_key=True),
    sa.Column("segment_point", sa.BigInteger, nullable=False),
    sa.Column("sealed", sa.LargeBinary, nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("expires", sa.BigInteger, nullable=True),  # s
    sa.Index("ix_dynamodb_items_expires", "expires"),
)

dynamodb_index_entries = sa.Table(
    "dynamodb_index_entries",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("table_name", key_text(), primary_key=True),
    sa.Column("index_name", key_text(), primary_key=True),
    sa.Column("hash_token", sa.LargeBinary, primary_key=True),
    sa.Column("sort_token", sa.LargeBinary, primary_key=True),
    sa.Column("item_hash_token", sa.LargeBinary, primary_key=True),
    sa.Column("item_sort_token", sa.LargeBinary, primary_key=True),
    sa.Column("segment_point", sa.BigInteger, nullable=False),
    sa.Index(
        "ix_dynamodb_index_entries_item",
        "tenant_id",
        "table_name",
        "item_hash_token",
        "item_sort_token",
    ),
)

dynamodb_streams = sa.Table(
    "dynamodb_streams",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("table_name", key_text(), primary_key=True),
    sa.Column("label", key_text(), primary_key=True),
    sa.Column("region", key_text(), nullable=False),
    sa.Column("created", sa.BigInteger, nullable=False),  # ms
    sa.Column("definition", sa.Text, nullable=False),  # JSON: view type, key schema
    sa.Column("table_created", sa.BigInteger, nullable=False),  # ms
    sa.Column("wrapped_key", sa.LargeBinary, nullable=False),
    sa.Column("iterator_key", sa.LargeBinary, nullable=False),
    sa.Column("disabled", sa.BigInteger, nullable=False),  # ms, 0 while enabled
    sa.Column("next_sequence", sa.BigInteger, nullable=False),
    sa.Column("trimmed_to", sa.BigInteger, nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
)

dynamodb_stream_records = sa.Table(
    "dynamodb_stream_records",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("table_name", key_text(), primary_key=True),
    sa.Column("label", key_text(), primary_key=True),
    sa.Column("sequence", sa.BigInteger, primary_key=True),
    sa.Column("created", sa.BigInteger, nullable=False),  # ms
    sa.Column("event", key_text(), nullable=False),
    sa.Column("hash_token", sa.LargeBinary, nullable=False),
    sa.Column("sort_token", sa.LargeBinary, nullable=False),
    sa.Column("old_sealed", sa.LargeBinary, nullable=True),
    sa.Column("new_sealed", sa.LargeBinary, nullable=True),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("by_service", sa.Boolean, nullable=False),
    sa.Index("ix_dynamodb_stream_records_created", "created"),
)

dynamodb_backups = sa.Table(
    "dynamodb_backups",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("backup_id", key_text(), primary_key=True),
    sa.Column("backup_name", key_text(), nullable=False),
    sa.Column("table_name", key_text(), nullable=False),
    sa.Column("region", key_text(), nullable=False),
    sa.Column("table_created", sa.BigInteger, nullable=False),  # ms
    sa.Column("definition", sa.Text, nullable=False),  # JSON, as dynamodb_tables'
    sa.Column("wrapped_key", sa.LargeBinary, nullable=False),
    sa.Column("table_revision", sa.Integer, nullable=False),
    sa.Column("created", sa.BigInteger, nullable=False),  # ms
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("item_count", sa.BigInteger, nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
)

dynamodb_backup_items = sa.Table(
    "dynamodb_backup_items",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("backup_id", key_text(), primary_key=True),
    sa.Column("hash_token", sa.LargeBinary, primary_key=True),
    sa.Column("sort_token", sa.LargeBinary, primary_key=True),
    sa.Column("sealed", sa.LargeBinary, nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
)

dynamodb_item_versions = sa.Table(
    "dynamodb_item_versions",
    metadata,
    sa.Column("id", big_id(), primary_key=True, autoincrement=True),
    sa.Column("tenant_id", key_text(), nullable=False),
    sa.Column("table_name", key_text(), nullable=False),
    sa.Column("table_created", sa.BigInteger, nullable=False),  # ms
    sa.Column("hash_token", sa.LargeBinary, nullable=False),
    sa.Column("sort_token", sa.LargeBinary, nullable=False),
    sa.Column("at", sa.BigInteger, nullable=False),  # ms
    sa.Column("sealed", sa.LargeBinary, nullable=True),  # None: removed
    sa.Column("size", sa.Integer, nullable=False),
    sa.Index(
        "ix_dynamodb_item_versions_item",
        "tenant_id",
        "table_name",
        "table_created",
        "hash_token",
        "sort_token",
        "at",
    ),
    sqlite_autoincrement=True,
)

dynamodb_transaction_tokens = sa.Table(
    "dynamodb_transaction_tokens",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("token", key_text(), primary_key=True),
    sa.Column("digest", sa.LargeBinary, nullable=False),
    sa.Column("settled", sa.Boolean, nullable=False),  # False: its transaction still runs
    sa.Column("until", sa.BigInteger, nullable=False),  # ms
    sa.Index("ix_dynamodb_transaction_tokens_until", "until"),
)

# Kinesis streaming destinations (decision 0262, migration 0126): each table's queue of the
# item changes still to put into its destinations' streams, and its forwarder's lease.
dynamodb_kinesis_queue = sa.Table(
    "dynamodb_kinesis_queue",
    metadata,
    sa.Column("id", big_id(), primary_key=True, autoincrement=True),
    sa.Column("tenant_id", key_text(), nullable=False),
    sa.Column("table_name", key_text(), nullable=False),
    sa.Column("created", sa.BigInteger, nullable=False),  # ms
    sa.Column("event", key_text(), nullable=False),
    sa.Column("hash_token", sa.LargeBinary, nullable=False),
    sa.Column("sort_token", sa.LargeBinary, nullable=False),
    sa.Column("old_sealed", sa.LargeBinary, nullable=True),
    sa.Column("old_size", sa.Integer, nullable=False),
    sa.Column("new_sealed", sa.LargeBinary, nullable=True),
    sa.Column("new_size", sa.Integer, nullable=False),
    sa.Column("by_service", sa.Boolean, nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
    sa.Index("ix_dynamodb_kinesis_queue_table", "tenant_id", "table_name", "id"),
    sqlite_autoincrement=True,
)

dynamodb_kinesis_leases = sa.Table(
    "dynamodb_kinesis_leases",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("table_name", key_text(), primary_key=True),
    sa.Column("owner", key_text(), nullable=False),
    sa.Column("lease_until", sa.BigInteger, nullable=False),  # ms
)
