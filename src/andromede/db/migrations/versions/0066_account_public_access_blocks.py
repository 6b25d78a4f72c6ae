"""The account-level S3 Block Public Access (decision 0152): one row per account holding its
four switches. Nothing is backfilled: no account had one (S3 Control was not served).

Revision ID: 0066
Revises: 0065
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import UtcDateTime, key_text

revision: str = "0066"
# 0065 is another branch's of this session; the lead chains this one after it at merge.
down_revision: str | None = "0065"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLE = "account_public_access_blocks"


def upgrade() -> None:
    op.create_table(
        _TABLE,
        sa.Column("tenant_id", key_text(), primary_key=True),
        sa.Column("configuration", sa.Text(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table(_TABLE)
