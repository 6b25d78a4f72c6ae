"""Rotations of the audit log signing key (decision 0140): each transition from a key to its
successor, the statement both signed, and per log the size at which the key changed with the
checkpoint both signed there. Nothing is backfilled: a region that never rotated has none.

Revision ID: 0059
Revises: 0058
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import UtcDateTime

revision: str = "0059"
down_revision: str | None = "0058"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_key_transitions",
        sa.Column("key_name", sa.Text(), primary_key=True),
        sa.Column("generation", sa.Integer(), primary_key=True),
        sa.Column("old_public_key", sa.LargeBinary(), nullable=False),
        sa.Column("new_public_key", sa.LargeBinary(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "audit_key_transition_checkpoints",
        sa.Column("key_name", sa.Text(), primary_key=True),
        sa.Column("generation", sa.Integer(), primary_key=True),
        sa.Column("log_id", sa.Text(), primary_key=True),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("checkpoint", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    # Refused once a key was rotated: without the transitions, verifiers pinning the earlier
    # key could no longer follow the chain to the key that signs now.
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT 1 FROM audit_key_transitions LIMIT 1")).first() is not None:
        raise RuntimeError("the audit log signing key was rotated: its transitions stay")
    op.drop_table("audit_key_transition_checkpoints")
    op.drop_table("audit_key_transitions")
