"""DynamoDB transaction idempotency (decision 0259): ``dynamodb_transaction_tokens``, a write
transaction's ``ClientRequestToken`` per account with its request's MAC, whether its
transaction succeeded and when it lapses.
Nothing to backfill: tokens were not remembered.

Revision ID: 0122
Revises: 0121
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0122"
down_revision: str | None = "0121"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dynamodb_transaction_tokens",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("token", key_text(), nullable=False),
        sa.Column("digest", sa.LargeBinary(), nullable=False),
        sa.Column("settled", sa.Boolean(), nullable=False),
        sa.Column("until", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "token", name="pk_dynamodb_transaction_tokens"),
    )
    op.create_index(
        "ix_dynamodb_transaction_tokens_until", "dynamodb_transaction_tokens", ["until"]
    )


def downgrade() -> None:
    op.drop_index("ix_dynamodb_transaction_tokens_until", table_name="dynamodb_transaction_tokens")
    op.drop_table("dynamodb_transaction_tokens")
