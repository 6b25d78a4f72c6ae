"""Kinesis record size and account settings (decision 0260): on ``kinesis_streams``,
``max_record_kib`` (the stream's largest record in KiB, UpdateMaxRecordSize's; 1024, AWS's
default, for the streams already there); ``kinesis_account_settings`` (each account's minimum
throughput billing commitment, DescribeAccountSettings / UpdateAccountSettings).

Revision ID: 0123
Revises: 0122
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0123"
down_revision: str | None = "0122"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("kinesis_streams") as batch:
        batch.add_column(
            sa.Column("max_record_kib", sa.Integer(), nullable=False, server_default="1024")
        )
    op.create_table(
        "kinesis_account_settings",
        sa.Column("tenant_id", key_text(), primary_key=True),
        sa.Column("commitment", key_text(), nullable=False),
        sa.Column("started_at", sa.BigInteger(), nullable=True),
        sa.Column("ended_at", sa.BigInteger(), nullable=True),
        sa.Column("earliest_end", sa.BigInteger(), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("kinesis_account_settings")
    with op.batch_alter_table("kinesis_streams") as batch:
        batch.drop_column("max_record_kib")
