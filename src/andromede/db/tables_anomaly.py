"""CloudWatch anomaly detectors (decision 0189, migration 0086): ``metric_anomaly_detectors``,
one row per detector of an account, keyed by the SHA-256 of what it watches (a metric's
statistic, or a metric math expression's queries), its definition a JSON document.

Part of the one ``MetaData`` (``andromede.db.metadata``); ``andromede.db.tables`` re-exports
every table, which the stores and the migrations import from there.
"""

from __future__ import annotations

import sqlalchemy as sa

from andromede.db.metadata import metadata
from andromede.db.types import key_text

__all__ = ["metric_anomaly_detectors"]

metric_anomaly_detectors = sa.Table(
    "metric_anomaly_detectors",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("detector_key", sa.String(64), primary_key=True),
    sa.Column("document", sa.Text, nullable=False),
    # Microseconds since the epoch: DescribeAnomalyDetectors' order.
    sa.Column("created", sa.BigInteger, nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
)
