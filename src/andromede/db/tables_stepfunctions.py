"""AWS Step Functions (decision 0271, migration 0131): ``stepfunctions_state_machines`` (each
account's state machines in a Region: their definitions sealed under the account's key ring,
their role, type, configurations and tags).

Part of the one ``MetaData`` (``andromede.db.metadata``); ``andromede.db.tables`` re-exports
every table.
"""

from __future__ import annotations

import sqlalchemy as sa

from andromede.db.metadata import metadata
from andromede.db.types import key_text

__all__ = ["stepfunctions_state_machines"]

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
