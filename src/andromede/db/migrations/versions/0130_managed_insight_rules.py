"""Managed Contributor Insights rules (decision 0278): on ``insight_rules``, ``managed_by``,
the ARN of the resource whose service made the rule on the account's behalf (a DynamoDB
table's or global secondary index's: its Contributor Insights), empty for the account's own
rules — which all the rules already there are.

Revision ID: 0130
Revises: 0129
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0130"
down_revision: str | None = "0129"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("insight_rules") as batch:
        batch.add_column(sa.Column("managed_by", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("insight_rules") as batch:
        batch.drop_column("managed_by")
