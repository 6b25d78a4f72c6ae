"""Role sessions keep their source identity (decision 0089): the text as set, fixed for the
session and the sessions it assumes in turn; NULL for a session without.

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0034"
down_revision: str | None = "0033"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("session_credentials") as batch:
        batch.add_column(sa.Column("source_identity", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("session_credentials") as batch:
        batch.drop_column("source_identity")
