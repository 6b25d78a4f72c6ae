"""Kinesis resource policies (decision 0248): on ``kinesis_streams``, ``policy`` (the stream's
resource policy, as put; NULL when it has none). A consumer's policy is the third element of
its entry in the ``consumers`` JSON list, which needs no change of schema: entries of two
elements are consumers without one.

Revision ID: 0120
Revises: 0119
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0120"
down_revision: str | None = "0119"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("kinesis_streams") as batch:
        batch.add_column(sa.Column("policy", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("kinesis_streams") as batch:
        batch.drop_column("policy")
