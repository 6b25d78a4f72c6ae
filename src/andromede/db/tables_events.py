"""EventBridge (decision 0192, migration 0089): ``events_buses`` (an account's custom event
buses; the default bus is implicit and has a row only once UpdateEventBus configured it,
decision 0213's session 51 addendum), ``events_rules`` (one row per rule of a
bus, its definition a JSON document, ``scheduled`` telling the schedule dispatcher's rules
apart) and ``events_targets`` (one row per target of a rule, its definition as PutTargets
gave it, its ARN a column for ListRuleNamesByTarget), and ``events_deliveries`` (migration
0091, session 48: one row per matched event and target waiting for its delivery, written in
PutEvents' transaction, sealed as ``notification_events`` are, leased by the gateways'
workers), and ``events_bus_policies`` (migration 0094, session 48: a bus's resource policy,
PutPermission's statements or PutPermission's whole ``Policy``; the default bus has one too),
and the archives of decision 0196 (migration 0095): ``events_archives`` (one row per archive
of a bus), ``events_archive_events`` (one row per archived event, sealed as the deliveries
are, its event time and arrival in microseconds since the epoch) and ``events_replays`` (one
row per replay, its cursor and the lease of the gateway working it), and the connections and
API destinations of decision 0200 (migration 0097): ``events_connections`` (one row per
connection, its credentials sealed in ``secret``) and ``events_api_destinations``.

Part of the one ``MetaData`` (``andromede.db.metadata``); ``andromede.db.tables`` re-exports
every table, which the stores and the migrations import from there.
"""

from __future__ import annotations

import sqlalchemy as sa

from andromede.db.metadata import metadata
from andromede.db.types import UtcDateTime, big_id, key_text

__all__ = [
    "events_api_destinations",
    "events_archive_events",
    "events_archives",
    "events_bus_policies",
    "events_buses",
    "events_connections",
    "events_deliveries",
    "events_endpoints",
    "events_replays",
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
    # Migration 0102 (decision 0213): the bus's KmsKeyIdentifier and dead-letter queue, JSON;
    # NULL for a bus with neither.
    sa.Column("config", sa.Text, nullable=True),
    # Migration 0103 (decision 0218): its rules, targets and deliveries still being re-sealed
    # after a change of key (the task any gateway resumes).
    sa.Column("resealing", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Index("ix_events_buses_resealing", "resealing"),
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

# Decision 0196: an archive of a bus; its pattern and description in ``document``.
events_archives = sa.Table(
    "events_archives",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("archive_name", key_text(), primary_key=True),
    sa.Column("bus_name", key_text(), nullable=False),
    sa.Column("source_arn", sa.Text, nullable=False),
    sa.Column("retention_days", sa.Integer, nullable=False),
    # Microseconds since the epoch.
    sa.Column("created", sa.BigInteger, nullable=False),
    sa.Column("document", sa.Text, nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
    sa.Index("ix_events_archives_bus", "tenant_id", "bus_name"),
)

# One archived event: ``message`` sealed, its AAD binding the tenant and the archive's ARN;
# ``event_time`` (the event's own time) and ``archived_at`` in microseconds since the epoch.
events_archive_events = sa.Table(
    "events_archive_events",
    metadata,
    sa.Column("id", big_id(), primary_key=True, autoincrement=True),
    sa.Column("tenant_id", key_text(), nullable=False),
    sa.Column("archive_name", key_text(), nullable=False),
    sa.Column("event_time", sa.BigInteger, nullable=False),
    sa.Column("archived_at", sa.BigInteger, nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
    sa.Index("ix_events_archive_events_time", "tenant_id", "archive_name", "event_time", "id"),
    sa.Index("ix_events_archive_events_archived", "tenant_id", "archive_name", "archived_at"),
)

# A replay: where it is in its archive (``cursor_time``, ``cursor_id``) and who works it.
events_replays = sa.Table(
    "events_replays",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("replay_name", key_text(), primary_key=True),
    sa.Column("archive_name", key_text(), nullable=False),
    sa.Column("source_arn", sa.Text, nullable=False),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("state_reason", sa.Text, nullable=True),
    sa.Column("document", sa.Text, nullable=False),
    sa.Column("cursor_time", sa.BigInteger, nullable=False),
    sa.Column("cursor_id", sa.BigInteger, nullable=False),
    sa.Column("last_replayed", sa.BigInteger, nullable=True),
    sa.Column("ended", sa.BigInteger, nullable=True),
    sa.Column("holder", sa.Text, nullable=True),
    sa.Column("lease_until", UtcDateTime, nullable=True),
    sa.Column("format_version", sa.Integer, nullable=False),
    sa.Index("ix_events_replays_state", "state"),
)

# A connection (decision 0200): ``document`` what may be shown, ``secret`` its AuthParameters
# sealed under the tenant's key (NULL once deauthorized), times in microseconds.
events_connections = sa.Table(
    "events_connections",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("connection_name", key_text(), primary_key=True),
    sa.Column("uuid", sa.Text, nullable=False),
    sa.Column("auth_type", sa.Text, nullable=False),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("created", sa.BigInteger, nullable=False),
    sa.Column("document", sa.Text, nullable=False),
    sa.Column("secret", sa.Text, nullable=True),
    sa.Column("format_version", sa.Integer, nullable=False),
)

events_api_destinations = sa.Table(
    "events_api_destinations",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("destination_name", key_text(), primary_key=True),
    sa.Column("uuid", sa.Text, nullable=False),
    sa.Column("connection_name", key_text(), nullable=False),
    sa.Column("created", sa.BigInteger, nullable=False),
    sa.Column("document", sa.Text, nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
)

# A global endpoint (decision 0355): keyed by account, home Region and name; its EndpointId
# unique (PutEvents finds it by that); ``document`` its settings as JSON; ``created`` in ms.
events_endpoints = sa.Table(
    "events_endpoints",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("region", key_text(), primary_key=True),
    sa.Column("endpoint_name", key_text(), primary_key=True),
    sa.Column("endpoint_id", key_text(), nullable=False),
    sa.Column("created", sa.BigInteger, nullable=False),
    sa.Column("document", sa.Text, nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
    sa.UniqueConstraint("endpoint_id"),
)
