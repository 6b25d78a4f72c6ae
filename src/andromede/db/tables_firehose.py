"""Amazon Data Firehose (decision 0223, migration 0105): ``firehose_streams`` (each account's
delivery streams: the S3 destination as JSON, tags, the encryption asked for and its status
(migration 0108), the buffer's
totals and hints as columns the deliverer's claim reads, and the lease of the gateway
delivering it) and ``firehose_records`` (each buffered record, sealed under the account's
keys, until it is written into the bucket); migration 0114 (decision 0235): a
``KinesisStreamAsSource`` stream's ``source`` and its reader's lease on ``firehose_streams``,
and ``firehose_source_checkpoints`` (where the reading of each source shard stands).

Part of the one ``MetaData`` (``andromede.db.metadata``); ``andromede.db.tables`` re-exports
every table.
"""

from __future__ import annotations

import sqlalchemy as sa

from andromede.db.metadata import metadata
from andromede.db.types import big_id, key_text

__all__ = ["firehose_records", "firehose_source_checkpoints", "firehose_streams"]

firehose_streams = sa.Table(
    "firehose_streams",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("stream_name", key_text(), primary_key=True),
    sa.Column("region", key_text(), nullable=False),
    sa.Column("status", key_text(), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("created", sa.BigInteger, nullable=False),  # ms
    sa.Column("updated", sa.BigInteger, nullable=False),  # ms
    sa.Column("destination", sa.Text, nullable=False),  # JSON
    sa.Column("tags", sa.Text, nullable=False),  # JSON list of pairs
    sa.Column("sse_key_type", key_text(), nullable=True),
    sa.Column("sse_key_arn", sa.Text, nullable=True),
    sa.Column("revision", sa.Integer, nullable=False),
    # The buffering hints, as the claim compares them with the buffer's totals.
    sa.Column("size_bytes", sa.BigInteger, nullable=False),
    sa.Column("interval_ms", sa.BigInteger, nullable=False),
    sa.Column("buffered_records", sa.BigInteger, nullable=False),
    sa.Column("buffered_bytes", sa.BigInteger, nullable=False),
    sa.Column("oldest_arrival", sa.BigInteger, nullable=True),
    sa.Column("failing_since", sa.BigInteger, nullable=True),
    sa.Column("next_attempt", sa.BigInteger, nullable=False),
    sa.Column("lease_owner", key_text(), nullable=True),
    sa.Column("lease_until", sa.BigInteger, nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
    # Migration 0108 (decision 0223's addendum; last, where the migration adds them): the
    # encryption's Status, its last FailureDescription (JSON [Type, Details]) and the
    # customer-managed key new records are sealed under (NULL: the account's key ring).
    sa.Column("sse_status", key_text(), nullable=False, server_default="DISABLED"),
    sa.Column("sse_failure", sa.Text, nullable=True),
    sa.Column("sealing_key_arn", sa.Text, nullable=True),
    # Migration 0114 (decision 0235): a Kinesis source (JSON; NULL: Direct PUT) and the lease
    # of the gateway reading it, apart from the delivery's.
    sa.Column("source", sa.Text, nullable=True),
    sa.Column("reader_owner", key_text(), nullable=True),
    sa.Column("reader_until", sa.BigInteger, nullable=False, server_default="0"),
    sa.Index("ix_firehose_streams_due", "status", "oldest_arrival"),
    sa.Index("ix_firehose_streams_sse", "sse_status"),
)

firehose_records = sa.Table(
    "firehose_records",
    metadata,
    sa.Column("seq", big_id(), primary_key=True, autoincrement=True),
    sa.Column("tenant_id", key_text(), nullable=False),
    sa.Column("stream_name", key_text(), nullable=False),
    sa.Column("record_id", key_text(), nullable=False),
    sa.Column("arrived", sa.BigInteger, nullable=False),  # ms
    sa.Column("size", sa.Integer, nullable=False),  # the plaintext's bytes
    sa.Column("sealed", sa.LargeBinary, nullable=False),
    sa.Index("ix_firehose_records_stream", "tenant_id", "stream_name", "seq"),
)

firehose_source_checkpoints = sa.Table(
    "firehose_source_checkpoints",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("stream_name", key_text(), primary_key=True),
    sa.Column("shard_id", key_text(), primary_key=True),
    sa.Column("sequence", sa.Text, nullable=True),  # the last record taken (NULL: none yet)
    sa.Column("finished", sa.Boolean, nullable=False),  # a closed shard read to its end
    sa.Column("updated", sa.BigInteger, nullable=False),  # ms
)
