"""EventBridge (decision 0192, migration 0089): ``events_buses`` (an account's custom event
buses; the default bus is implicit and has no row), ``events_rules`` (one row per rule of a
bus, its definition a JSON document, ``scheduled`` telling the schedule dispatcher's rules
apart) and ``events_targets`` (one row per target of a rule, its definition as PutTargets
gave it, its ARN a column for ListRuleNamesByTarget), and ``events_deliveries`` (migration
0091, session 48: one row per matched event and target waiting for its delivery, written in
PutEvents' transaction, sealed as ``notification_events`` are, leased by the gateways'
workers), and ``events_bus_policies`` (migration 0094, session 48: a bus's resource policy,
PutPermission's statements or PutPermission's whole ``Policy``; the default bus has one too).

Part of the one ``MetaData`` (``andromede.db.metadata``); ``andromede.db.tables`` re-exports
every table, which the stores and the migrations import from there.
"""

from __future__ import annotations

import sqlalchemy as sa

from andromede.db.metadata import metadata
from andromede.db.types import UtcDateTime, big_id, key_text

__all__ = [
    "events_bus_policies",
    "events_buses",
    "events_deliveries",
    "events_rules",
    "events_targets",
]

events_buses = sa.Table(
    "events_buses",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("bus_name", key_text(), primary_key=True),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("tags", sa.Text, nullable=False),
    # Microseconds since the epoch.
    sa.Column("created", sa.BigInteger, nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
)

events_bus_policies = sa.Table(
    "events_bus_policies",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("bus_name", key_text(), primary_key=True),
    sa.Column("policy", sa.Text, nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
)

events_rules = sa.Table(
    "events_rules",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("bus_name", key_text(), primary_key=True),
    sa.Column("rule_name", key_text(), primary_key=True),
    sa.Column("scheduled", sa.Boolean, nullable=False),
    sa.Column("document", sa.Text, nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
    sa.Index("ix_events_rules_scheduled", "scheduled"),
)

events_targets = sa.Table(
    "events_targets",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("bus_name", key_text(), primary_key=True),
    sa.Column("rule_name", key_text(), primary_key=True),
    sa.Column("target_id", key_text(), primary_key=True),
    sa.Column("target_arn", key_text(), nullable=False),
    sa.Column("document", sa.Text, nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
    sa.Index("ix_events_targets_arn", "tenant_id", "bus_name", "target_arn"),
)

# A matched event's delivery to one target (session 48): ``message`` is the sealed document
# (the rule's ARN, the target's definition, the event and the rendered input) whose AAD binds
# the tenant, the rule and the target id; ``attempts`` counts the claims.
events_deliveries = sa.Table(
    "events_deliveries",
    metadata,
    sa.Column("id", big_id(), primary_key=True, autoincrement=True),
    sa.Column("tenant_id", key_text(), nullable=False, index=True),
    sa.Column("rule_arn", sa.Text, nullable=False),
    sa.Column("target_id", sa.Text, nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("not_before", UtcDateTime, nullable=False, index=True),
    sa.Column("lease_until", UtcDateTime, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("last_error", sa.Text, nullable=True),
)
