"""DynamoDB's exports to S3 and imports from S3 (decision 0261, migration 0125):
``dynamodb_jobs``, one row per export or import job of an account (``kind``), its ARN, its
table's ARN, its client token (unique per account and kind: the same token answers the same
job), its status and its whole record as a JSON document carrying its format version.

Part of the one ``MetaData`` (``andromede.db.metadata``); ``andromede.db.tables`` re-exports
every table.
"""

from __future__ import annotations

import sqlalchemy as sa

from andromede.db.metadata import metadata
from andromede.db.types import key_text

__all__ = ["dynamodb_jobs"]

dynamodb_jobs = sa.Table(
    "dynamodb_jobs",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("kind", key_text(), primary_key=True),  # export | import
    sa.Column("arn", key_text(), primary_key=True),
    sa.Column("table_arn", key_text(), nullable=False),
    sa.Column("client_token", key_text(), nullable=False),
    sa.Column("status", key_text(), nullable=False),
    sa.Column("document", sa.Text, nullable=False),  # JSON
    sa.Column("format_version", sa.Integer, nullable=False),
    sa.UniqueConstraint("tenant_id", "kind", "client_token", name="uq_dynamodb_jobs_token"),
    sa.Index("ix_dynamodb_jobs_status", "status"),
)
