"""Amazon Kinesis Data Streams (decision 0228, migration 0110): ``kinesis_streams`` (each
account's streams: their shards as JSON, the counter of their next sequence number, their
layout number, the key their iterators are MACed under, tags, retention, encryption,
registered consumers and enhanced monitoring's shard-level metrics, decision 0245, and its
largest record, decision 0260), ``kinesis_account_settings`` (each account's minimum throughput
billing commitment, decision 0260) and
``kinesis_records`` (each record, sealed under the account's keys, keyed by stream, shard and
sequence number until its retention period ends).

Part of the one ``MetaData`` (``andromede.db.metadata``); ``andromede.db.tables`` re-exports
every table.
"""

from __future__ import annotations

import sqlalchemy as sa

from andromede.db.metadata import metadata
from andromede.db.types import key_text

__all__ = ["kinesis_account_settings", "kinesis_records", "kinesis_streams"]

kinesis_streams = sa.Table(
    "kinesis_streams",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("stream_name", key_text(), primary_key=True),
    sa.Column("region", key_text(), nullable=False),
    sa.Column("status", key_text(), nullable=False),
    sa.Column("mode", key_text(), nullable=False),
    sa.Column("created", sa.BigInteger, nullable=False),  # ms
    sa.Column("retention_hours", sa.Integer, nullable=False),
    sa.Column("shards", sa.Text, nullable=False),  # JSON
    sa.Column("open_shards", sa.Integer, nullable=False),
    sa.Column("iterator_key", sa.LargeBinary, nullable=False),
    sa.Column("tags", sa.Text, nullable=False),  # JSON list of pairs
    sa.Column("encryption_type", key_text(), nullable=False),
    sa.Column("key_id", sa.Text, nullable=True),
    # JSON list of [name, created ms] (and its resource policy's text, decision 0248)
    sa.Column("consumers", sa.Text, nullable=False),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("layout", sa.Integer, nullable=False),
    sa.Column("next_sequence", sa.BigInteger, nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
    # JSON list of the enhanced monitoring's metric names (decision 0245, migration 0117)
    sa.Column("shard_level_metrics", sa.Text, nullable=False, server_default="[]"),
    # The stream's resource policy, as put (decision 0248, migration 0120)
    sa.Column("policy", sa.Text, nullable=True),
    # Its largest record in KiB, UpdateMaxRecordSize's (decision 0260, migration 0123)
    sa.Column("max_record_kib", sa.Integer, nullable=False, server_default="1024"),
)

kinesis_records = sa.Table(
    "kinesis_records",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("stream_name", key_text(), primary_key=True),
    sa.Column("shard", sa.Integer, primary_key=True),
    sa.Column("sequence", sa.BigInteger, primary_key=True),
    sa.Column("partition_key", sa.Text, nullable=False),
    sa.Column("arrived", sa.BigInteger, nullable=False),  # ms
    sa.Column("size", sa.Integer, nullable=False),  # the plaintext's bytes
    sa.Column("sealed", sa.LargeBinary, nullable=False),
    sa.Index("ix_kinesis_records_arrival", "tenant_id", "stream_name", "arrived"),
)

# Each account's Kinesis settings (decision 0260, migration 0123): the minimum throughput
# billing commitment, its status and its times (ms; NULL when not set).
kinesis_account_settings = sa.Table(
    "kinesis_account_settings",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("commitment", key_text(), nullable=False),
    sa.Column("started_at", sa.BigInteger, nullable=True),
    sa.Column("ended_at", sa.BigInteger, nullable=True),
    sa.Column("earliest_end", sa.BigInteger, nullable=True),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
)
