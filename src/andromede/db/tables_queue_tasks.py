"""Message move tasks of SQS-style queues (decision 0165, migration 0078): one row a task,
``active`` 1 while it runs and NULL after, so that a unique index on (tenant, source,
active) lets one task at most run per source queue, on every gateway (NULLs are distinct
in a unique index, on SQLite and PostgreSQL alike).

Part of the one ``MetaData`` (``andromede.db.metadata``); ``andromede.db.tables`` re-exports
every table, which the stores and the migrations import from there.
"""

from __future__ import annotations

import sqlalchemy as sa

from andromede.db.metadata import metadata
from andromede.db.types import UtcDateTime, key_text

__all__ = ["queue_move_tasks"]

queue_move_tasks = sa.Table(
    "queue_move_tasks",
    metadata,
    sa.Column("task_id", key_text(), primary_key=True),
    sa.Column("tenant_id", key_text(), nullable=False),
    sa.Column("source_arn", key_text(), nullable=False),
    sa.Column("destination_arn", sa.Text, nullable=True),
    sa.Column("rate", sa.Integer, nullable=True),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("active", sa.Integer, nullable=True),
    sa.Column("moved", sa.BigInteger, nullable=False),
    sa.Column("to_move", sa.BigInteger, nullable=False),
    sa.Column("failure", sa.Text, nullable=True),
    sa.Column("started_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("tenant_id", "source_arn", "active"),
    sa.Index(None, "status", "updated_at"),
)
