"""S3 Storage Lens configurations (decision 0415): one row per configuration — its account
and id (the key), whether it is enabled, its document (the ``StorageLensConfiguration`` as
S3 Control's XML, validated and rewritten in the model's order), its tags (JSON pairs), the
export period last written and the claim of the gateway writing one (migration 0162).

Part of the one ``MetaData`` (``andromede.db.metadata``); ``andromede.db.tables`` re-exports
it, which the store and the migration import from there.
"""

from __future__ import annotations

import sqlalchemy as sa

from andromede.db.metadata import metadata
from andromede.db.types import UtcDateTime, key_text

__all__ = ["storage_lens_configurations"]

storage_lens_configurations = sa.Table(
    "storage_lens_configurations",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("config_id", key_text(), primary_key=True),
    sa.Column("is_enabled", sa.Boolean, nullable=False),
    sa.Column("document", sa.Text, nullable=False),
    sa.Column("tags", sa.Text, nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("exported_slot", key_text(), nullable=True),
    sa.Column("claimed_until", UtcDateTime, nullable=True),
)
