"""Role sessions keep the session policies they were issued with (decision 0071): JSON
``{"inline": text or null, "arns": [...]}``, NULL for a session without.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("session_credentials") as batch:
        batch.add_column(sa.Column("session_policy", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("session_credentials") as batch:
        batch.drop_column("session_policy")
