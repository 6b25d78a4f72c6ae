"""Lambda's function URLs (decision 0312, migration 0142): ``lambda_function_urls``, one row
per function and qualifier (``$LATEST`` or an alias), found by its url-id (unique across
every account) when a request reaches the URL; ``AuthType``, ``Cors``, ``InvokeMode`` and
the times as one JSON ``definition``. Part of the one ``MetaData``; ``andromede.db.tables``
re-exports it.
"""

from __future__ import annotations

import sqlalchemy as sa

from andromede.db.metadata import metadata
from andromede.db.types import key_text

__all__ = ["lambda_function_urls"]

lambda_function_urls = sa.Table(
    "lambda_function_urls",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("name", key_text(), primary_key=True),
    sa.Column("qualifier", key_text(), primary_key=True),  # "$LATEST" or an alias
    sa.Column("url_id", key_text(), nullable=False, unique=True),
    sa.Column("definition", sa.Text, nullable=False),  # JSON: auth type, CORS, invoke mode…
    sa.Column("format_version", sa.Integer, nullable=False),
)
