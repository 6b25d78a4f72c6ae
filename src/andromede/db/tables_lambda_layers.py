"""Lambda layers (decision 0302, migration 0138): ``lambda_layer_versions`` (each account's
layer versions: their description, compatible runtimes and architectures and licence as one
JSON ``definition``, the code digest and sizes, the resource policy replaced by
compare-and-set on ``policy_revision``, ``deleted`` for a tombstone whose number stays
taken) and ``lambda_layer_content`` (each version's zip, sealed under the account's keys,
kept while its tombstone is, for the functions that use it).

Part of the one ``MetaData`` (``andromede.db.metadata``); ``andromede.db.tables`` re-exports
every table.
"""

from __future__ import annotations

import sqlalchemy as sa

from andromede.db.metadata import metadata
from andromede.db.types import key_text

__all__ = ["lambda_layer_content", "lambda_layer_versions"]

lambda_layer_versions = sa.Table(
    "lambda_layer_versions",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("name", key_text(), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("definition", sa.Text, nullable=False),  # JSON: description, runtimes…
    sa.Column("code_sha256", key_text(), nullable=False),
    sa.Column("code_size", sa.BigInteger, nullable=False),
    sa.Column("policy", sa.Text, nullable=True),
    sa.Column("policy_revision", key_text(), nullable=False),
    sa.Column("deleted", sa.Boolean, nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
)

lambda_layer_content = sa.Table(
    "lambda_layer_content",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("name", key_text(), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("sealed", sa.LargeBinary, nullable=False),
)
