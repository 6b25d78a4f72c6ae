"""Operator access requests' loose ends (decision 0114): a request may ask to read SSE-KMS
objects of its scope (``include_kms``, false for every request made before), and the sweeper
finds the pending requests to lapse by their state and age.

Written beside 0043 (bucket replication) and chained after it when both were merged; it
touches nothing of 0043's.

Revision ID: 0044
Revises: 0043
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0044"
down_revision: str | None = "0043"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("operator_access_requests") as batch:
        batch.add_column(
            sa.Column("include_kms", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_index(
        "ix_operator_access_requests_status_created_at",
        "operator_access_requests",
        ["status", "created_at"],
    )


def downgrade() -> None:
    # Without the column every request reads as not including SSE-KMS objects: access only
    # narrows, so going back is safe.
    op.drop_index("ix_operator_access_requests_status_created_at", "operator_access_requests")
    with op.batch_alter_table("operator_access_requests") as batch:
        batch.drop_column("include_kms")
