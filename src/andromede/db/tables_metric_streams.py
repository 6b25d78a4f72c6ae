"""CloudWatch metric streams (decision 0233, migration 0113): ``metric_streams``, one row per
stream of an account — its Firehose stream and role, output format, state, filters and
additional statistics (JSON documents), tags (JSON) and dates (microseconds since the epoch).
The index on ``state`` serves the deliverer, which reads every account's running streams each
minute.

Part of the one ``MetaData`` (``andromede.db.metadata``); ``andromede.db.tables`` re-exports
every table, which the stores and the migrations import from there.
"""

from __future__ import annotations

import sqlalchemy as sa

from andromede.db.metadata import metadata
from andromede.db.types import key_text

__all__ = ["metric_streams"]

metric_streams = sa.Table(
    "metric_streams",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("stream_name", key_text(), primary_key=True),
    sa.Column("firehose_arn", sa.Text, nullable=False),
    sa.Column("role_arn", sa.Text, nullable=False),
    sa.Column("output_format", key_text(), nullable=False),
    sa.Column("state", key_text(), nullable=False),
    # {"include": [[namespace, [names]]], "exclude": …, "statistics": [[[[ns, name]], [stats]]]}
    sa.Column("selection", sa.Text, nullable=False),
    sa.Column("tags", sa.Text, nullable=False),
    sa.Column("created", sa.BigInteger, nullable=False),
    sa.Column("updated", sa.BigInteger, nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
    sa.Index("ix_metric_streams_state", "state"),
)
