"""EventBridge Pipes (decision 0258): ``pipes`` and ``pipe_checkpoints``.

Revision ID: 0124
Revises: 0123
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0124"
down_revision: str | None = "0123"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pipes",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("pipe_name", key_text(), nullable=False),
        sa.Column("region", key_text(), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("desired_state", key_text(), nullable=False),
        sa.Column("current_state", key_text(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("updated", sa.BigInteger(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("reader_owner", key_text(), nullable=True),
        sa.Column("reader_until", sa.BigInteger(), nullable=False),
        sa.Column("reader_since", sa.BigInteger(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "pipe_name", name="pk_pipes"),
    )
    op.create_index("ix_pipes_state", "pipes", ["region", "current_state"])
    op.create_table(
        "pipe_checkpoints",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("pipe_name", key_text(), nullable=False),
        sa.Column("shard", key_text(), nullable=False),
        sa.Column("sequence", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "pipe_name", "shard", name="pk_pipe_checkpoints"),
    )


def downgrade() -> None:
    op.drop_table("pipe_checkpoints")
    op.drop_index("ix_pipes_state", table_name="pipes")
    op.drop_table("pipes")
