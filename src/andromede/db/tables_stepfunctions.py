"""AWS Step Functions (decision 0271, migration 0131): ``stepfunctions_state_machines`` (each
account's state machines in a Region: their definitions sealed under the account's key ring,
their role, type, configurations and tags), ``stepfunctions_executions`` (their executions:
status, when each is next due, the lease of the gateway driving it, and its data — definition,
input, output, position — sealed) and ``stepfunctions_history`` (each step's history events,
sealed) and ``stepfunctions_activities`` (their activities; an activity's tasks are the
executions parked on it, ``waiting_activity``); migration 0134 (decision 0283):
``stepfunctions_versions`` (each machine's published versions, their definitions sealed),
``stepfunctions_aliases`` (their aliases and routing) and the executions' version, alias and
redrive columns; migration 0146 (decision 0322): ``stepfunctions_map_runs`` (the distributed
Maps' runs: their execution, status, settings and counts); migration 0153 (decision 0369):
``stepfunctions_map_children`` (a run's child executions, their data and history sealed).

Part of the one ``MetaData`` (``andromede.db.metadata``); ``andromede.db.tables`` re-exports
every table.
"""

from __future__ import annotations

import sqlalchemy as sa

from andromede.db.metadata import metadata
from andromede.db.types import key_text

__all__ = [
    "stepfunctions_activities",
    "stepfunctions_aliases",
    "stepfunctions_executions",
    "stepfunctions_history",
    "stepfunctions_map_children",
    "stepfunctions_map_runs",
    "stepfunctions_state_machines",
    "stepfunctions_versions",
]

stepfunctions_state_machines = sa.Table(
    "stepfunctions_state_machines",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("region", key_text(), primary_key=True),
    sa.Column("machine_name", key_text(), primary_key=True),
    sa.Column("machine_type", key_text(), nullable=False),
    sa.Column("role_arn", sa.Text, nullable=False),
    sa.Column("definition_sealed", sa.LargeBinary, nullable=False),
    sa.Column("settings", sa.Text, nullable=False),  # JSON: logging, tracing, tags, revision id
    sa.Column("created", sa.BigInteger, nullable=False),  # ms
    sa.Column("updated", sa.BigInteger, nullable=False),  # ms
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
)

stepfunctions_executions = sa.Table(
    "stepfunctions_executions",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("region", key_text(), primary_key=True),
    sa.Column("machine_name", key_text(), primary_key=True),
    sa.Column("execution_name", key_text(), primary_key=True),
    sa.Column("status", key_text(), nullable=False),
    sa.Column("started", sa.BigInteger, nullable=False),  # ms
    sa.Column("stopped", sa.BigInteger, nullable=True),  # ms
    sa.Column("wake_at", sa.BigInteger, nullable=False),  # ms
    sa.Column("role_arn", sa.Text, nullable=False),
    sa.Column("revision_id", key_text(), nullable=False),
    sa.Column("transitions", sa.Integer, nullable=False),
    sa.Column("event_count", sa.Integer, nullable=False),
    sa.Column("document_sealed", sa.LargeBinary, nullable=False),
    sa.Column("lease_owner", key_text(), nullable=True),
    sa.Column("lease_until", sa.BigInteger, nullable=False),
    sa.Column("waiting_activity", key_text(), nullable=True),  # the activity's name
    sa.Column("activity_taken", sa.Boolean, nullable=False),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
    sa.Column("version_number", sa.Integer, nullable=True),  # started by a version (0283)
    sa.Column("alias_name", key_text(), nullable=True),  # through an alias (0283)
    sa.Column("redrive_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("redriven", sa.BigInteger, nullable=True),  # ms: its last redrive
    sa.Index("ix_stepfunctions_executions_due", "region", "status", "wake_at"),
    sa.Index("ix_stepfunctions_executions_activity", "tenant_id", "region", "waiting_activity"),
)

stepfunctions_history = sa.Table(
    "stepfunctions_history",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("region", key_text(), primary_key=True),
    sa.Column("machine_name", key_text(), primary_key=True),
    sa.Column("execution_name", key_text(), primary_key=True),
    sa.Column("first_event", sa.Integer, primary_key=True),
    sa.Column("events_sealed", sa.LargeBinary, nullable=False),  # one step's events, JSON
)

stepfunctions_activities = sa.Table(
    "stepfunctions_activities",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("region", key_text(), primary_key=True),
    sa.Column("activity_name", key_text(), primary_key=True),
    sa.Column("created", sa.BigInteger, nullable=False),  # ms
    sa.Column("tags", sa.Text, nullable=False),  # JSON pairs
)

stepfunctions_versions = sa.Table(
    "stepfunctions_versions",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("region", key_text(), primary_key=True),
    sa.Column("machine_name", key_text(), primary_key=True),
    sa.Column("version_number", sa.Integer, primary_key=True),
    sa.Column("machine_type", key_text(), nullable=False),
    sa.Column("role_arn", sa.Text, nullable=False),
    sa.Column("revision_id", key_text(), nullable=False),
    sa.Column("definition_sealed", sa.LargeBinary, nullable=False),
    sa.Column("settings", sa.Text, nullable=False),  # JSON: description, logging, tracing
    sa.Column("created", sa.BigInteger, nullable=False),  # ms
    sa.Column("format_version", sa.Integer, nullable=False),
)

stepfunctions_aliases = sa.Table(
    "stepfunctions_aliases",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("region", key_text(), primary_key=True),
    sa.Column("machine_name", key_text(), primary_key=True),
    sa.Column("alias_name", key_text(), primary_key=True),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("routing", sa.Text, nullable=False),  # JSON: [[version number, weight]]
    sa.Column("created", sa.BigInteger, nullable=False),  # ms
    sa.Column("updated", sa.BigInteger, nullable=False),  # ms
    sa.Column("revision", sa.Integer, nullable=False),
)

stepfunctions_map_runs = sa.Table(
    "stepfunctions_map_runs",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("map_run_arn", key_text(), primary_key=True),
    sa.Column("execution_arn", key_text(), nullable=False),
    sa.Column("status", key_text(), nullable=False),
    sa.Column("started", sa.BigInteger, nullable=False),  # ms
    sa.Column("stopped", sa.BigInteger, nullable=True),  # ms
    sa.Column("max_concurrency", sa.Integer, nullable=False),
    sa.Column("tolerated_percentage", sa.Float, nullable=False),
    sa.Column("tolerated_count", sa.BigInteger, nullable=False),
    sa.Column("item_counts", sa.Text, nullable=False),  # JSON
    sa.Column("execution_counts", sa.Text, nullable=False),  # JSON
    sa.Column("redrive_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("redrive_date", sa.BigInteger, nullable=True),  # ms
    sa.Index("ix_stepfunctions_map_runs_execution", "tenant_id", "execution_arn"),
)

stepfunctions_map_children = sa.Table(
    "stepfunctions_map_children",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("execution_arn", key_text(), primary_key=True),
    sa.Column("map_run_arn", key_text(), nullable=False),
    sa.Column("status", key_text(), nullable=False),
    sa.Column("started", sa.BigInteger, nullable=False),  # ms
    sa.Column("stopped", sa.BigInteger, nullable=True),  # ms
    sa.Column("item_count", sa.Integer, nullable=False),
    # input, output, error, cause, role and history: sealed, AAD the child's ARN
    sa.Column("document_sealed", sa.LargeBinary, nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
    sa.Column("item_index", sa.Integer, nullable=True),  # its first item: what a redrive skips
    sa.Column("redrive_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("redrive_date", sa.BigInteger, nullable=True),  # ms
    sa.Index("ix_stepfunctions_map_children_run", "tenant_id", "map_run_arn", "started"),
)
