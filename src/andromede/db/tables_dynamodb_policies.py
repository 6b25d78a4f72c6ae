"""DynamoDB's resource policies (decision 0266, migration 0128): ``dynamodb_resource_policies``,
one row per table or stream ARN of an account that carries a policy: its table's name and
creation time (the incarnation it was written for), the policy's text and revision id.

Part of the one ``MetaData`` (``andromede.db.metadata``); ``andromede.db.tables`` re-exports
every table.
"""

from __future__ import annotations

import sqlalchemy as sa

from andromede.db.metadata import metadata
from andromede.db.types import key_text

__all__ = ["dynamodb_resource_policies"]

dynamodb_resource_policies = sa.Table(
    "dynamodb_resource_policies",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("resource_arn", key_text(), primary_key=True),
    sa.Column("table_name", key_text(), nullable=False),
    sa.Column("table_created", sa.BigInteger, nullable=False),  # ms
    sa.Column("policy", sa.Text, nullable=False),
    sa.Column("revision_id", key_text(), nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
    sa.Index("ix_dynamodb_resource_policies_table", "tenant_id", "table_name"),
)
