"""Amazon EventBridge Pipes (decision 0258, migration 0124): ``pipes`` (each account's pipes:
their source, target and parameters as AWS's JSON, their states, and the lease of the gateway
reading their source) and ``pipe_checkpoints`` (where the reading of each shard of a stream
source stands).

Part of the one ``MetaData`` (``andromede.db.metadata``); ``andromede.db.tables`` re-exports
every table.
"""

from __future__ import annotations

import sqlalchemy as sa

from andromede.db.metadata import metadata
from andromede.db.types import key_text

__all__ = ["pipe_checkpoints", "pipes"]

pipes = sa.Table(
    "pipes",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("pipe_name", key_text(), primary_key=True),
    sa.Column("region", key_text(), nullable=False),
    sa.Column("definition", sa.Text, nullable=False),  # JSON: source, target, parameters…
    sa.Column("desired_state", key_text(), nullable=False),
    sa.Column("current_state", key_text(), nullable=False),
    sa.Column("created", sa.BigInteger, nullable=False),  # ms
    sa.Column("updated", sa.BigInteger, nullable=False),  # ms
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("reader_owner", key_text(), nullable=True),
    sa.Column("reader_until", sa.BigInteger, nullable=False),
    sa.Column("reader_since", sa.BigInteger, nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
    sa.Index("ix_pipes_state", "region", "current_state"),
)

pipe_checkpoints = sa.Table(
    "pipe_checkpoints",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("pipe_name", key_text(), primary_key=True),
    sa.Column("shard", key_text(), primary_key=True),
    sa.Column("sequence", sa.Text, nullable=False),  # the last record read
)
