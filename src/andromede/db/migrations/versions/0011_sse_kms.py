"""SSE-KMS completeness: KMS keys say who manages them (CUSTOMER, or AWS for a service's default
key such as ``alias/aws/s3``, which its tenant cannot disable, delete or re-point). Existing keys
were all made by their tenants: CUSTOMER.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("kms_keys") as batch:
        batch.add_column(
            sa.Column("key_manager", sa.Text(), nullable=False, server_default="CUSTOMER")
        )


def downgrade() -> None:
    with op.batch_alter_table("kms_keys") as batch:
        batch.drop_column("key_manager")
