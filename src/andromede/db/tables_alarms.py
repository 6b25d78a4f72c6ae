"""CloudWatch metric alarms (decision 0177, migration 0082): ``metric_alarms``, one row per
alarm of an account, its definition and state a JSON document written over its revision, the
series it watches and its state as columns (DescribeAlarmsForMetric, StateValue filters), and
``next_evaluation``, the period end at which a gateway claims it (a conditional update, so
one gateway evaluates each period); ``metric_alarm_history``, the state changes kept
``alarm_history_days``.

Part of the one ``MetaData`` (``andromede.db.metadata``); ``andromede.db.tables`` re-exports
every table, which the stores and the migrations import from there.
"""

from __future__ import annotations

import sqlalchemy as sa

from andromede.db.metadata import metadata
from andromede.db.types import key_text

__all__ = ["metric_alarm_history", "metric_alarms"]

metric_alarms = sa.Table(
    "metric_alarms",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("alarm_name", key_text(), primary_key=True),
    sa.Column("namespace", key_text(), nullable=False),
    sa.Column("metric_name", key_text(), nullable=False),
    sa.Column("dimensions_hash", key_text(), nullable=False),
    sa.Column("state", key_text(), nullable=False),
    # Epoch seconds of the next evaluation (the end of the period under way).
    sa.Column("next_evaluation", sa.BigInteger, nullable=False),
    sa.Column("document", sa.Text, nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Index(None, "next_evaluation"),
    # Named: the convention's name would pass PostgreSQL's 63 characters.
    sa.Index("ix_metric_alarms_series", "tenant_id", "namespace", "metric_name", "dimensions_hash"),
)

metric_alarm_history = sa.Table(
    "metric_alarm_history",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("alarm_name", key_text(), primary_key=True),
    # Microseconds since the epoch, then a random id: two items of one instant both kept.
    sa.Column("at", sa.BigInteger, primary_key=True),
    sa.Column("item_id", key_text(), primary_key=True),
    sa.Column("item_type", key_text(), nullable=False),
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("data", sa.Text, nullable=False),
    sa.Index(None, "at"),
)
