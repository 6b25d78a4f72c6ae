"""Systems Manager Parameter Store (decision 0229, migration 0111): ``ssm_parameters``, one row
per parameter (its name unique in its account's region; its newest version's number, tier and
Expiration time, its tags as JSON, the revision a write checks), and
``ssm_parameter_versions``, one row per version, its value sealed (under the account's key
ring, or a SecureString's KMS key: never in clear), its labels a JSON list and its parameter
policies as written. ``ssm_resource_policies`` (decision 0249, migration 0118): one row per
resource policy of a parameter, its text, its hash (the version a change names) and the
accounts it shares the parameter with (``,<id>,<id>,``, so one ``LIKE`` finds the parameters
shared with an account). Times are microseconds since the epoch.

Part of the one ``MetaData`` (``andromede.db.metadata``); ``andromede.db.tables`` re-exports
every table, which the stores and the migrations import from there.
"""

from __future__ import annotations

import sqlalchemy as sa

from andromede.db.metadata import metadata
from andromede.db.types import key_text

__all__ = ["ssm_parameter_versions", "ssm_parameters", "ssm_resource_policies"]

ssm_parameters = sa.Table(
    "ssm_parameters",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("region", key_text(), primary_key=True),
    sa.Column("name", key_text(), primary_key=True),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("tier", sa.Text, nullable=False),
    sa.Column("expires", sa.BigInteger, nullable=True),
    sa.Column("tags", sa.Text, nullable=False),
    sa.Column("revision", sa.BigInteger, nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
    sa.Index("ix_ssm_parameters_expires", "expires"),
)

ssm_parameter_versions = sa.Table(
    "ssm_parameter_versions",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("region", key_text(), primary_key=True),
    sa.Column("name", key_text(), primary_key=True),
    sa.Column("version", sa.BigInteger, primary_key=True),
    sa.Column("type", sa.Text, nullable=False),
    sa.Column("sealed", sa.LargeBinary, nullable=False),
    sa.Column("modified", sa.BigInteger, nullable=False),
    sa.Column("modified_user", sa.Text, nullable=False),
    sa.Column("tier", sa.Text, nullable=False),
    sa.Column("data_type", sa.Text, nullable=False),
    sa.Column("key_id", sa.Text, nullable=True),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("allowed_pattern", sa.Text, nullable=True),
    sa.Column("labels", sa.Text, nullable=False),
    sa.Column("policies", sa.Text, nullable=True),
    sa.Column("expires", sa.BigInteger, nullable=True),
    sa.Column("format_version", sa.Integer, nullable=False),
)

ssm_resource_policies = sa.Table(
    "ssm_resource_policies",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("region", key_text(), primary_key=True),
    sa.Column("name", key_text(), primary_key=True),
    sa.Column("policy_id", key_text(), primary_key=True),
    sa.Column("policy_hash", sa.Text, nullable=False),
    sa.Column("policy", sa.Text, nullable=False),
    sa.Column("accounts", sa.Text, nullable=False),
    sa.Column("created", sa.BigInteger, nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
    sa.Index("ix_ssm_resource_policies_region", "region"),
)
