"""CloudWatch Logs subscription filters (decision 0225, migration 0107):
``log_subscription_filters`` (each group's filters: at most two, their Firehose destination
and role) and ``log_subscription_outbox`` (the records waiting for their destination, sealed
under the account's key ring, with their attempts and the lease of the gateway delivering
them).

Part of the one ``MetaData`` (``andromede.db.metadata``); ``andromede.db.tables`` re-exports
every table, which the stores and the migrations import from there.
"""

from __future__ import annotations

import sqlalchemy as sa

from andromede.db.metadata import metadata
from andromede.db.types import key_text

__all__ = ["log_subscription_filters", "log_subscription_outbox"]

log_subscription_filters = sa.Table(
    "log_subscription_filters",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("group_name", key_text(), primary_key=True),
    sa.Column("filter_name", key_text(), primary_key=True),
    sa.Column("pattern", sa.Text, nullable=False),
    sa.Column("destination_arn", sa.Text, nullable=False),
    sa.Column("role_arn", sa.Text, nullable=False),
    sa.Column("distribution", key_text(), nullable=False),
    sa.Column("created", sa.BigInteger, nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
)

log_subscription_outbox = sa.Table(
    "log_subscription_outbox",
    metadata,
    sa.Column("entry_id", key_text(), primary_key=True),
    sa.Column("tenant_id", key_text(), nullable=False),
    sa.Column("group_name", key_text(), nullable=False),
    sa.Column("filter_name", key_text(), nullable=False),
    sa.Column("destination_arn", sa.Text, nullable=False),
    sa.Column("role_arn", sa.Text, nullable=False),
    sa.Column("arrived", sa.BigInteger, nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("sealed", sa.LargeBinary, nullable=False),
    sa.Column("events", sa.Integer, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt", sa.BigInteger, nullable=False),
    sa.Column("lease_owner", key_text(), nullable=True),
    sa.Column("lease_until", sa.BigInteger, nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
    # A Kinesis destination's partition key (decision 0235, migration 0114); NULL for Firehose.
    sa.Column("partition_key", sa.Text, nullable=True),
    sa.Index("ix_log_subscription_outbox_due", "next_attempt"),
    sa.Index("ix_log_subscription_outbox_tenant", "tenant_id", "group_name"),
)
