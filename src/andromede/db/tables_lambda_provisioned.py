"""Lambda's provisioned concurrency (decision 0314, migration 0143):
``lambda_provisioned_concurrency``, one row per function and qualifier (a version or an
alias): the executions requested, the Put's time, and the status the gateways keeping its
sandboxes warm write (IN_PROGRESS, READY, FAILED with its reason, how many allocated).

Part of the one ``MetaData`` (``andromede.db.metadata``); ``andromede.db.tables`` re-exports
every table.
"""

from __future__ import annotations

import sqlalchemy as sa

from andromede.db.metadata import metadata
from andromede.db.types import key_text

__all__ = ["lambda_provisioned_concurrency"]

lambda_provisioned_concurrency = sa.Table(
    "lambda_provisioned_concurrency",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("name", key_text(), primary_key=True),
    sa.Column("qualifier", key_text(), primary_key=True),  # a version or an alias
    sa.Column("requested", sa.Integer, nullable=False),
    sa.Column("last_modified", sa.BigInteger, nullable=False),  # ms
    sa.Column("status", key_text(), nullable=False),
    sa.Column("status_reason", sa.Text, nullable=False),
    sa.Column("allocated", sa.Integer, nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
)
