"""CloudWatch Logs (decision 0186, migration 0087): ``log_groups`` (one row per group of an
account: retention, KMS key, tags, stored bytes), ``log_streams`` (their streams' times and
bytes) and ``log_events`` (each event, its message sealed; ``seq`` the order of storing);
``log_metric_filters`` (migration 0090: each group's metric filters, their transformation
as JSON, the metric's name and namespace as columns to list them by) and
``log_resource_policies`` (each account's resource policies for services);
``log_queries`` (migration 0092: each account's Logs Insights queries, their status and,
once finished, their results as JSON, so any gateway answers GetQueryResults) and
``log_query_definitions`` (the saved queries of PutQueryDefinition); ``log_export_tasks``
(migration 0096: each account's export tasks to S3, their status and the lease of the gateway
running one); ``log_account_policies`` (migration 0101: each account's account-level
policies, DATA_PROTECTION_POLICY and, since migration 0109, SUBSCRIPTION_FILTER_POLICY with
its ``selection_criteria``). ``log_groups.log_class`` and
``deletion_protection`` (migration 0104, decision 0222); ``log_groups.index_policy`` and
``index_policy_updated`` (migration 0109, decision 0232: its field index policy). A group's
own data protection policy is two columns of ``log_groups``, and the spans of what it found
in an event ``masks`` of ``log_events`` (decision 0211).

Part of the one ``MetaData`` (``andromede.db.metadata``); ``andromede.db.tables`` re-exports
every table, which the stores and the migrations import from there.
"""

from __future__ import annotations

import sqlalchemy as sa

from andromede.db.metadata import metadata
from andromede.db.types import big_id, key_text

__all__ = [
    "log_account_policies",
    "log_events",
    "log_export_tasks",
    "log_groups",
    "log_metric_filters",
    "log_queries",
    "log_query_definitions",
    "log_resource_policies",
    "log_streams",
]

log_groups = sa.Table(
    "log_groups",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("group_name", key_text(), primary_key=True),
    # Milliseconds since the epoch, as AWS answers them.
    sa.Column("created", sa.BigInteger, nullable=False),
    sa.Column("retention_days", sa.Integer, nullable=True),
    sa.Column("kms_key_id", sa.Text, nullable=True),
    sa.Column("tags", sa.Text, nullable=False),
    sa.Column("stored_bytes", sa.BigInteger, nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
    # The group's data protection policy document and when it was put (decision 0211).
    sa.Column("data_protection", sa.Text, nullable=True),
    sa.Column("data_protection_updated", sa.BigInteger, nullable=True),
    # Its class, never changed after it is made, and its deletion protection (migration
    # 0104, decision 0222).
    sa.Column("log_class", key_text(), nullable=False, server_default="STANDARD"),
    sa.Column("deletion_protection", sa.Boolean, nullable=False, server_default=sa.false()),
    # Its field index policy document and when it was put (migration 0109, decision 0232).
    sa.Column("index_policy", sa.Text, nullable=True),
    sa.Column("index_policy_updated", sa.BigInteger, nullable=True),
)

log_streams = sa.Table(
    "log_streams",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("group_name", key_text(), primary_key=True),
    sa.Column("stream_name", key_text(), primary_key=True),
    sa.Column("created", sa.BigInteger, nullable=False),
    sa.Column("first_event", sa.BigInteger, nullable=True),
    sa.Column("last_event", sa.BigInteger, nullable=True),
    sa.Column("last_ingestion", sa.BigInteger, nullable=True),
    sa.Column("stored_bytes", sa.BigInteger, nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
)

log_events = sa.Table(
    "log_events",
    metadata,
    sa.Column("seq", big_id(), primary_key=True, autoincrement=True),
    sa.Column("tenant_id", key_text(), nullable=False),
    sa.Column("group_name", key_text(), nullable=False),
    sa.Column("stream_name", key_text(), nullable=False),
    sa.Column("timestamp", sa.BigInteger, nullable=False),
    sa.Column("ingestion", sa.BigInteger, nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("sealed", sa.LargeBinary, nullable=False),
    # Character spans ("start-end,…") of the sensitive terms found at ingestion (decision
    # 0211): where a reader sees asterisks. Offsets only, nothing of the terms.
    sa.Column("masks", sa.Text, nullable=True),
    sa.Index("ix_log_events_stream_time", "tenant_id", "group_name", "stream_name", "timestamp"),
    sa.Index("ix_log_events_group_time", "tenant_id", "group_name", "timestamp"),
)

log_metric_filters = sa.Table(
    "log_metric_filters",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("group_name", key_text(), primary_key=True),
    sa.Column("filter_name", key_text(), primary_key=True),
    sa.Column("filter_pattern", sa.Text, nullable=False),
    sa.Column("metric_name", key_text(), nullable=False),
    sa.Column("metric_namespace", key_text(), nullable=False),
    sa.Column("transformation", sa.Text, nullable=False),
    sa.Column("created", sa.BigInteger, nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
    sa.Index("ix_log_metric_filters_metric", "tenant_id", "metric_namespace", "metric_name"),
)

log_resource_policies = sa.Table(
    "log_resource_policies",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("policy_name", key_text(), primary_key=True),
    sa.Column("document", sa.Text, nullable=False),
    sa.Column("updated", sa.BigInteger, nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
)

log_account_policies = sa.Table(
    "log_account_policies",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("policy_type", key_text(), primary_key=True),
    sa.Column("policy_name", key_text(), primary_key=True),
    sa.Column("document", sa.Text, nullable=False),
    sa.Column("scope", key_text(), nullable=False),
    sa.Column("updated", sa.BigInteger, nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
    # A subscription filter policy's selection criteria (migration 0109, decision 0232).
    sa.Column("selection_criteria", sa.Text, nullable=True),
)

log_queries = sa.Table(
    "log_queries",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("query_id", key_text(), primary_key=True),
    sa.Column("group_names", sa.Text, nullable=False),  # JSON list
    sa.Column("query_string", sa.Text, nullable=False),
    sa.Column("start_time", sa.BigInteger, nullable=False),  # seconds, as StartQuery's
    sa.Column("end_time", sa.BigInteger, nullable=False),
    sa.Column("query_limit", sa.Integer, nullable=False),
    sa.Column("created", sa.BigInteger, nullable=False),  # milliseconds
    sa.Column("status", key_text(), nullable=False),
    sa.Column("results", sa.Text, nullable=True),  # JSON rows of [field, value]
    sa.Column("statistics", sa.Text, nullable=True),
    sa.Column("format_version", sa.Integer, nullable=False),
    sa.Index("ix_log_queries_created", "tenant_id", "created"),
)

log_query_definitions = sa.Table(
    "log_query_definitions",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("definition_id", key_text(), primary_key=True),
    sa.Column("name", key_text(), nullable=False),
    sa.Column("query_string", sa.Text, nullable=False),
    sa.Column("group_names", sa.Text, nullable=False),  # JSON list
    sa.Column("modified", sa.BigInteger, nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
    sa.Index("ix_log_query_definitions_name", "tenant_id", "name"),
)

log_export_tasks = sa.Table(
    "log_export_tasks",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("task_id", key_text(), primary_key=True),
    sa.Column("task_name", key_text(), nullable=False),
    sa.Column("group_name", key_text(), nullable=False),
    sa.Column("stream_prefix", key_text(), nullable=False),
    sa.Column("start_time", sa.BigInteger, nullable=False),  # ms, inclusive
    sa.Column("end_time", sa.BigInteger, nullable=False),  # ms, inclusive
    sa.Column("bucket", key_text(), nullable=False),
    sa.Column("prefix", sa.Text, nullable=False),
    sa.Column("created", sa.BigInteger, nullable=False),
    sa.Column("status", key_text(), nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("completed", sa.BigInteger, nullable=True),
    sa.Column("lease_owner", key_text(), nullable=True),
    sa.Column("lease_until", sa.BigInteger, nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
    sa.Index("ix_log_export_tasks_status", "status", "created"),
    sa.Index("ix_log_export_tasks_created", "tenant_id", "created"),
)
