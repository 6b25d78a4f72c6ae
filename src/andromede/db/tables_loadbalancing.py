"""Network Load Balancers (decision 0191, migration 0093): ``lb_resources``, one row per load
balancer, target group or listener of an account, as a JSON document (the targets and their
health inside their group's) with a revision for conditional writes.

The name is unique per account and kind (a listener's is its load balancer's id and port, so a
port is taken once); ``parent`` is a listener's load balancer, counted for its limit.

Part of the one ``MetaData`` (``andromede.db.metadata``); ``andromede.db.tables`` re-exports
every table, which the stores and the migrations import from there.
"""

from __future__ import annotations

import sqlalchemy as sa

from andromede.db.metadata import metadata
from andromede.db.types import key_text

__all__ = ["lb_resources"]

lb_resources = sa.Table(
    "lb_resources",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("kind", key_text(), primary_key=True),
    sa.Column("resource_id", key_text(), primary_key=True),
    sa.Column("name", key_text(), nullable=False),
    sa.Column("parent", key_text(), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
    sa.UniqueConstraint("tenant_id", "kind", "name", name="uq_lb_resources_name"),
)
