"""Role sessions keep their session tags (decision 0072): JSON ``{"tags": [[key, value], …],
"transitive": [key, …]}``, NULL for a session without.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("session_credentials") as batch:
        batch.add_column(sa.Column("session_tags", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("session_credentials") as batch:
        batch.drop_column("session_tags")
