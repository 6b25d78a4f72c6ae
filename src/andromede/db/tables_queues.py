"""Queue tables (decision 0158, migration 0071): SQS-style queues of the tenants and their
messages, each message's body and attributes sealed under its tenant's key (``sealed``) and
its state in clear columns that a receive selects on.

Part of the one ``MetaData`` (``andromede.db.metadata``); ``andromede.db.tables`` re-exports
every table, which the stores and the migrations import from there.
"""

from __future__ import annotations

import sqlalchemy as sa

from andromede.db.metadata import metadata
from andromede.db.types import UtcDateTime, big_id, key_text

__all__ = ["queue_deduplications", "queue_messages", "queue_receive_attempts", "queues"]

# A queue by account and name; attributes and tags as a JSON document with a format version.
queues = sa.Table(
    "queues",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("name", key_text(), primary_key=True),
    sa.Column("region", sa.Text, nullable=False),
    sa.Column("document", sa.Text, nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("modified_at", UtcDateTime, nullable=False),
)
# A message: visible when ``visible_at`` has passed; in flight when it has not and a receive
# gave it a ``receipt``; delayed when it has not and none did. Received oldest ``id`` first,
# FOR UPDATE SKIP LOCKED on PostgreSQL.
queue_messages = sa.Table(
    "queue_messages",
    metadata,
    sa.Column("id", big_id(), primary_key=True, autoincrement=True),
    sa.Column("message_id", key_text(), nullable=False, unique=True),
    sa.Column("tenant_id", key_text(), nullable=False),
    sa.Column("queue_name", key_text(), nullable=False),
    sa.Column("sealed", sa.LargeBinary, nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
    sa.Column("sent_at", UtcDateTime, nullable=False),
    sa.Column("visible_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
    sa.Column("receive_count", sa.Integer, nullable=False),
    sa.Column("first_received_at", UtcDateTime, nullable=True),
    sa.Column("receipt", sa.Text, nullable=True),
    # A FIFO queue's message (decision 0164, migration 0077): the digest of its group id.
    sa.Column("group_key", sa.Text, nullable=True),
    # The queue a dead-lettered message came from, for a move task back to it (decision
    # 0165, migration 0078); NULL for the others, and for those dead-lettered before.
    sa.Column("dead_letter_source", key_text(), nullable=True),
    sa.Index(None, "tenant_id", "queue_name", "visible_at"),
    sa.Index(None, "tenant_id", "queue_name", "group_key", "id"),
)
# A FIFO queue's deduplication keys (digests) of the last five minutes, with the message each
# first sent, so a duplicate answers its id and sequence.
queue_deduplications = sa.Table(
    "queue_deduplications",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("queue_name", key_text(), primary_key=True),
    sa.Column("dedup_key", sa.Text, primary_key=True),
    sa.Column("message_id", sa.Text, nullable=False),
    sa.Column("sequence", sa.BigInteger, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
)
# A FIFO queue's ReceiveRequestAttemptIds (digests) of the last five minutes: the messages
# and receipts each receive gave, as a JSON list.
queue_receive_attempts = sa.Table(
    "queue_receive_attempts",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("queue_name", key_text(), primary_key=True),
    sa.Column("attempt_key", sa.Text, primary_key=True),
    sa.Column("document", sa.Text, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
)
