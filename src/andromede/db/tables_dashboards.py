"""CloudWatch dashboards (decision 0185, migration 0084): ``metric_dashboards``, one row per
dashboard of an account, its body the client's JSON text as given, its size and the moment
it was last put (ListDashboards' ``Size`` and ``LastModified``).

Part of the one ``MetaData`` (``andromede.db.metadata``); ``andromede.db.tables`` re-exports
every table, which the stores and the migrations import from there.
"""

from __future__ import annotations

import sqlalchemy as sa

from andromede.db.metadata import metadata
from andromede.db.types import key_text

__all__ = ["metric_dashboards"]

metric_dashboards = sa.Table(
    "metric_dashboards",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("dashboard_name", key_text(), primary_key=True),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    # Microseconds since the epoch.
    sa.Column("last_modified", sa.BigInteger, nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
)
