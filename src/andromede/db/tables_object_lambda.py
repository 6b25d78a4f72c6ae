"""S3 Object Lambda access points (decision 0384): one row per Object Lambda access point —
its account and name (the key), its alias (unique across accounts), its configuration
(``ObjectLambdaConfiguration`` as JSON: the supporting access point, the transformations,
the allowed features) and its policy (migration 0158).

Part of the one ``MetaData`` (``andromede.db.metadata``); ``andromede.db.tables`` re-exports
it, which the store and the migration import from there.
"""

from __future__ import annotations

import sqlalchemy as sa

from andromede.db.metadata import metadata
from andromede.db.types import UtcDateTime, key_text

__all__ = ["object_lambda_access_points"]

object_lambda_access_points = sa.Table(
    "object_lambda_access_points",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("name", key_text(), primary_key=True),
    sa.Column("alias", key_text(), nullable=False),
    sa.Column("configuration", sa.Text, nullable=False),
    sa.Column("policy", sa.Text, nullable=True),
    sa.Column("format_version", sa.Integer, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("alias", name="uq_object_lambda_access_points_alias"),
)
