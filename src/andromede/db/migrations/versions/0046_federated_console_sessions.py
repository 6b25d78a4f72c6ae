"""Federated console sessions (SAML sign-in, the federation endpoint): such a session belongs
to no IAM user but to the temporary credentials STS issued for a role session or a federated
user, named by their access key id; a user's session keeps its user.

Revision ID: 0046
Revises: 0045
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0046"
down_revision: str | None = "0045"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("console_sessions") as batch:
        batch.add_column(sa.Column("session_key_id", sa.Text(), nullable=True))
        batch.alter_column("user_id", existing_type=sa.Text(), nullable=True)


def downgrade() -> None:
    # A federated session has no user to keep: it ends (the user signs in again).
    op.execute("DELETE FROM console_sessions WHERE user_id IS NULL")
    with op.batch_alter_table("console_sessions") as batch:
        batch.alter_column("user_id", existing_type=sa.Text(), nullable=False)
        batch.drop_column("session_key_id")
