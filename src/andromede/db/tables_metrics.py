"""CloudWatch-style metrics (decision 0172, migration 0080): ``metric_series``, one row per
metric of an account (ListMetrics, and the time of its last datapoint for RecentlyActive), and
``metric_datapoints``, one aggregate per (series, resolution, period start, unit) — never the
raw samples. The primary key of the datapoints starts with the series, so that reading one
series' recent periods (GetMetricStatistics, and next an alarm's evaluation) is one index
range; the (resolution, period_start) index serves the retention roll-up. ``metric_runs``
(decision 0181, migration 0083): which gateway holds, and which slot was last done of, a
periodic job that one gateway does for all (the daily ``AWS/S3`` storage metrics).

Part of the one ``MetaData`` (``andromede.db.metadata``); ``andromede.db.tables`` re-exports
every table, which the stores and the migrations import from there.
"""

from __future__ import annotations

import sqlalchemy as sa

from andromede.db.metadata import metadata
from andromede.db.types import key_text

__all__ = ["metric_datapoints", "metric_runs", "metric_series"]

metric_series = sa.Table(
    "metric_series",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("namespace", key_text(), primary_key=True),
    sa.Column("metric_name", key_text(), primary_key=True),
    sa.Column("dimensions_hash", key_text(), primary_key=True),
    # The dimensions as a JSON list of [name, value] pairs, sorted by name.
    sa.Column("dimensions", sa.Text, nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
    # Epoch seconds of the last PutMetricData that named the series.
    sa.Column("last_put", sa.BigInteger, nullable=False),
    sa.Index(None, "last_put"),
)

metric_datapoints = sa.Table(
    "metric_datapoints",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("namespace", key_text(), primary_key=True),
    sa.Column("metric_name", key_text(), primary_key=True),
    sa.Column("dimensions_hash", key_text(), primary_key=True),
    sa.Column("resolution", sa.Integer, primary_key=True),
    sa.Column("period_start", sa.BigInteger, primary_key=True),
    sa.Column("unit", key_text(), primary_key=True),
    sa.Column("sample_count", sa.Float, nullable=False),
    sa.Column("sum", sa.Float, nullable=False),
    sa.Column("minimum", sa.Float, nullable=False),
    sa.Column("maximum", sa.Float, nullable=False),
    # The values' log-scale histogram as JSON (percentiles); NULL when they are unknown.
    sa.Column("histogram", sa.Text, nullable=True),
    sa.Index(None, "resolution", "period_start"),
)

# One row per periodic job of the platform's metrics (decision 0181): the last slot (the job's
# period number) done, the one claimed and until when its claimer holds it (epoch seconds).
metric_runs = sa.Table(
    "metric_runs",
    metadata,
    sa.Column("name", key_text(), primary_key=True),
    sa.Column("done_slot", sa.BigInteger, nullable=False),
    sa.Column("claimed_slot", sa.BigInteger, nullable=False),
    sa.Column("holder", sa.Text, nullable=False),
    sa.Column("lease_until", sa.BigInteger, nullable=False),
)
