"""AWS Lambda (decision 0286, migration 0135): ``lambda_functions`` (each account's functions:
tags, aliases, resource policies, reserved concurrency and version counter as one JSON
``definition`` written whole by compare-and-set on ``version``), ``lambda_versions`` (each
version's configuration, ``$LATEST`` replaced by compare-and-set on ``revision_id``, its
environment sealed under the account's keys) and ``lambda_code`` (the code zips, sealed
under the account's keys, by SHA-256) and ``lambda_event_invocations`` (the queued Event
invocations, their payloads sealed, claimed by the workers under a lease); and (decision
0295, migration 0136) ``lambda_event_source_mappings``: each mapping's parameters, state and
last processing result as one JSON ``definition`` written by compare-and-set on ``version``,
leased to the gateway polling its source; and (decision 0300, migration 0137)
``lambda_event_invoke_configs``: each function's and qualifier's asynchronous invocation
configuration (retries, event age, destinations) as one JSON ``definition``.

Part of the one ``MetaData`` (``andromede.db.metadata``); ``andromede.db.tables`` re-exports
every table.
"""

from __future__ import annotations

import sqlalchemy as sa

from andromede.db.metadata import metadata
from andromede.db.types import key_text

__all__ = [
    "lambda_code",
    "lambda_event_invocations",
    "lambda_event_invoke_configs",
    "lambda_event_source_mappings",
    "lambda_functions",
    "lambda_mapping_checkpoints",
    "lambda_versions",
]

lambda_functions = sa.Table(
    "lambda_functions",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("name", key_text(), primary_key=True),
    sa.Column("definition", sa.Text, nullable=False),  # JSON: tags, aliases, policies…
    sa.Column("created", sa.BigInteger, nullable=False),  # ms
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
)

lambda_versions = sa.Table(
    "lambda_versions",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("name", key_text(), primary_key=True),
    sa.Column("version", key_text(), primary_key=True),  # "$LATEST" or a number
    sa.Column("configuration", sa.Text, nullable=False),  # JSON: runtime, handler, role…
    sa.Column("sealed_environment", sa.LargeBinary, nullable=False),
    sa.Column("code_sha256", key_text(), nullable=False),
    sa.Column("code_size", sa.BigInteger, nullable=False),
    sa.Column("revision_id", key_text(), nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
)

lambda_code = sa.Table(
    "lambda_code",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("name", key_text(), primary_key=True),
    sa.Column("code_sha256", key_text(), primary_key=True),
    sa.Column("sealed", sa.LargeBinary, nullable=False),
)

lambda_event_invocations = sa.Table(
    "lambda_event_invocations",
    metadata,
    sa.Column("id", key_text(), primary_key=True),
    sa.Column("tenant_id", key_text(), nullable=False),
    sa.Column("name", key_text(), nullable=False),
    sa.Column("version", key_text(), nullable=False),
    sa.Column("arn", sa.Text, nullable=False),
    sa.Column("sealed_payload", sa.LargeBinary, nullable=False),
    sa.Column("created", sa.BigInteger, nullable=False),  # ms
    sa.Column("due", sa.BigInteger, nullable=False),  # ms
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("lease_owner", key_text(), nullable=False),
    sa.Column("lease_until", sa.BigInteger, nullable=False),  # ms
    sa.Column("format_version", sa.Integer, nullable=False),
    # The caller's trace header: the lineage recursive loop detection reads (decision 0328).
    sa.Column("trace", sa.Text, nullable=True),
    sa.Index("ix_lambda_event_invocations_due", "due"),
)

lambda_event_source_mappings = sa.Table(
    "lambda_event_source_mappings",
    metadata,
    sa.Column("uuid", key_text(), primary_key=True),
    sa.Column("tenant_id", key_text(), nullable=False),
    sa.Column("source_arn", sa.Text, nullable=False),
    sa.Column("definition", sa.Text, nullable=False),  # JSON: function, parameters, state…
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("lease_owner", key_text(), nullable=False),
    sa.Column("lease_until", sa.BigInteger, nullable=False),  # ms
    sa.Column("format_version", sa.Integer, nullable=False),
    sa.Index("ix_lambda_event_source_mappings_tenant", "tenant_id"),
)

lambda_event_invoke_configs = sa.Table(
    "lambda_event_invoke_configs",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("name", key_text(), primary_key=True),
    sa.Column("qualifier", key_text(), primary_key=True),  # "$LATEST", a version or alias
    sa.Column("definition", sa.Text, nullable=False),  # JSON: retries, age, destinations
    sa.Column("format_version", sa.Integer, nullable=False),
)

# A stream mapping's place in each shard (decision 0301, migration 0140): the last sequence
# number done with, moved only by the gateway holding the mapping's lease.
lambda_mapping_checkpoints = sa.Table(
    "lambda_mapping_checkpoints",
    metadata,
    sa.Column("uuid", key_text(), primary_key=True),
    sa.Column("shard", key_text(), primary_key=True),
    sa.Column("tenant_id", key_text(), nullable=False),
    sa.Column("sequence", key_text(), nullable=False),
    sa.Column("window_start", sa.BigInteger, nullable=True),  # ms; None: no window open
    sa.Column("window_state", sa.LargeBinary, nullable=True),  # sealed
    sa.Index("ix_lambda_mapping_checkpoints_tenant", "tenant_id"),
)
