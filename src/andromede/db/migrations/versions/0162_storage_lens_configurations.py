"""S3 Storage Lens configurations (decision 0415): ``storage_lens_configurations``, one row
per configuration. Nothing to backfill: none existed.

Revision ID: 0162
Revises: 0161
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import UtcDateTime, key_text

revision: str = "0162"
down_revision: str | None = "0161"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "storage_lens_configurations",
        sa.Column("tenant_id", key_text(), primary_key=True),
        sa.Column("config_id", key_text(), primary_key=True),
        sa.Column("is_enabled", sa.Boolean(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("exported_slot", key_text(), nullable=True),
        sa.Column("claimed_until", UtcDateTime(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("storage_lens_configurations")
