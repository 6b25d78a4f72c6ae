"""CloudWatch Contributor Insights (decision 0272, migration 0129): ``insight_rules``, one row
per rule of an account — its state, its definition as the client gave it, whether it applies
on transformed logs, its tags (JSON), creation time (microseconds since the epoch) and, for
a managed rule, the resource that manages it (decision 0278, migration 0130) — and
``insight_rule_minutes``, the parts of each rule's minutes, sealed under the account's keys
(their contributors are log content), one per gateway's flush of a minute. The index on
``minute`` serves the retention sweep.

Part of the one ``MetaData`` (``andromede.db.metadata``); ``andromede.db.tables`` re-exports
every table, which the stores and the migrations import from there.
"""

from __future__ import annotations

import sqlalchemy as sa

from andromede.db.metadata import metadata
from andromede.db.types import key_text

__all__ = ["insight_rule_minutes", "insight_rules"]

insight_rules = sa.Table(
    "insight_rules",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("rule_name", key_text(), primary_key=True),
    sa.Column("state", key_text(), nullable=False),
    sa.Column("definition", sa.Text, nullable=False),
    sa.Column("transformed_logs", sa.Boolean, nullable=False),
    sa.Column("tags", sa.Text, nullable=False),
    sa.Column("created", sa.BigInteger, nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
    # Decision 0278 (migration 0130): the resource whose service made the rule, or "".
    sa.Column("managed_by", sa.Text, nullable=False, server_default=""),
    sa.Index("ix_insight_rules_state", "state"),
)

insight_rule_minutes = sa.Table(
    "insight_rule_minutes",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("rule_name", key_text(), primary_key=True),
    sa.Column("minute", sa.BigInteger, primary_key=True),
    sa.Column("part_id", key_text(), primary_key=True),
    sa.Column("sealed", sa.LargeBinary, nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
    sa.Index("ix_insight_rule_minutes_minute", "minute"),
)
