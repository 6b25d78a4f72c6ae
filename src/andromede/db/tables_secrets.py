"""Secrets Manager (decision 0190, migration 0085): ``secrets``, one row per secret (its ARN
the key, its name unique in its account's region), and ``secret_versions``, one row per
version, its value sealed (the envelope ``wiring.secrets`` writes; never in clear) and its
staging labels a JSON list. Times are microseconds since the epoch. Migration 0100 (decision
0207): ``secrets.primary_region`` and ``secret_replicas``, one row per primary secret and
replica region (its key, its status, and the due time of the sync that brings it up to date).

Part of the one ``MetaData`` (``andromede.db.metadata``); ``andromede.db.tables`` re-exports
every table, which the stores and the migrations import from there.
"""

from __future__ import annotations

import sqlalchemy as sa

from andromede.db.metadata import metadata
from andromede.db.types import key_text

__all__ = ["secret_replicas", "secret_rotations", "secret_versions", "secrets"]

secrets = sa.Table(
    "secrets",
    metadata,
    sa.Column("arn", key_text(), primary_key=True),
    sa.Column("tenant_id", key_text(), nullable=False),
    sa.Column("region", key_text(), nullable=False),
    sa.Column("name", key_text(), nullable=False),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("kms_key_id", sa.Text, nullable=True),
    sa.Column("tags", sa.Text, nullable=False),
    sa.Column("policy", sa.Text, nullable=True),
    sa.Column("created", sa.BigInteger, nullable=False),
    sa.Column("last_changed", sa.BigInteger, nullable=False),
    sa.Column("last_accessed", sa.BigInteger, nullable=True),
    sa.Column("deleted_date", sa.BigInteger, nullable=True),
    sa.Column("revision", sa.BigInteger, nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
    sa.Column("primary_region", sa.Text, nullable=True),
    sa.UniqueConstraint("tenant_id", "region", "name"),
)

secret_versions = sa.Table(
    "secret_versions",
    metadata,
    sa.Column("secret_arn", key_text(), primary_key=True),
    sa.Column("version_id", key_text(), primary_key=True),
    sa.Column("stages", sa.Text, nullable=False),
    sa.Column("created", sa.BigInteger, nullable=False),
    sa.Column("last_accessed", sa.BigInteger, nullable=True),
    sa.Column("sealed", sa.LargeBinary, nullable=False),
    sa.Column("binary", sa.Boolean, nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
)

secret_replicas = sa.Table(
    "secret_replicas",
    metadata,
    sa.Column("primary_arn", key_text(), primary_key=True),
    sa.Column("region", key_text(), primary_key=True),
    sa.Column("tenant_id", key_text(), nullable=False),
    sa.Column("kms_key_id", sa.Text, nullable=True),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("message", sa.Text, nullable=True),
    sa.Column("due", sa.BigInteger, nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("generation", sa.BigInteger, nullable=False),
    sa.Column("overwrite", sa.Boolean, nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
    sa.Index("ix_secret_replicas_due", "region", "due"),
)

# Migration 0139 (decision 0303): a secret's rotation — its function, its rules (JSON), the
# last and next rotation, the AWSPENDING version of a rotation in progress or failed, and the
# lease of the gateway running it (epoch milliseconds).
secret_rotations = sa.Table(
    "secret_rotations",
    metadata,
    sa.Column("secret_arn", key_text(), primary_key=True),
    sa.Column("tenant_id", key_text(), nullable=False),
    sa.Column("region", key_text(), nullable=False),
    sa.Column("function_arn", sa.Text, nullable=True),
    sa.Column("rules", sa.Text, nullable=True),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("last_rotated", sa.BigInteger, nullable=True),
    sa.Column("next_rotation", sa.BigInteger, nullable=True),
    sa.Column("token", sa.Text, nullable=True),
    sa.Column("failure", sa.Text, nullable=True),
    sa.Column("lease_owner", key_text(), nullable=False),
    sa.Column("lease_until", sa.BigInteger, nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
    sa.Index("ix_secret_rotations_due", "enabled", "next_rotation"),
)
