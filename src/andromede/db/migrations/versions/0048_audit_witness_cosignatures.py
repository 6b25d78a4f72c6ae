"""The latest cosignature of each witness on each audit log (decision 0122, increment 2).

Revision ID: 0048
Revises: 0047
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import UtcDateTime

revision: str = "0048"
down_revision: str | None = "0047"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLE = "audit_witness_cosignatures"


def upgrade() -> None:
    op.create_table(
        _TABLE,
        sa.Column("log_id", sa.Text(), nullable=False),
        sa.Column("witness", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("root_hash", sa.LargeBinary(), nullable=False),
        sa.Column("cosignature", sa.Text(), nullable=False),
        sa.Column("cosigned_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("log_id", "witness", name=f"pk_{_TABLE}"),
    )


def downgrade() -> None:
    op.drop_table(_TABLE)
