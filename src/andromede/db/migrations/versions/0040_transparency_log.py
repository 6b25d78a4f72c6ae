"""The audit transparency log: one Merkle tree per tenant and the platform's, its leaves, the
heads of its perfect subtrees, and the public half of each region's signing key (decision 0105).

``audit_events`` stays as it is: the events written before this revision remain there,
readable, and are not put into the log, whose signature would then vouch for rows that were
never tamper-evident.

Revision ID: 0040
Revises: 0039
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import UtcDateTime, big_id

revision: str = "0040"
down_revision: str | None = "0039"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_logs",
        sa.Column("log_id", sa.Text(), primary_key=True),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("root_hash", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "audit_log_entries",
        sa.Column("id", big_id(), primary_key=True, autoincrement=True),
        sa.Column("log_id", sa.Text(), nullable=False),
        sa.Column("leaf_index", sa.BigInteger(), nullable=False),
        sa.Column("entry", sa.Text(), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(), nullable=False),
        sa.UniqueConstraint("log_id", "leaf_index", name="uq_audit_log_entries_log_id_leaf_index"),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_audit_log_entries_log_id_id", "audit_log_entries", ["log_id", "id"], unique=False
    )
    op.create_table(
        "audit_log_nodes",
        sa.Column("log_id", sa.Text(), primary_key=True),
        sa.Column("level", sa.SmallInteger(), primary_key=True),
        sa.Column("node_index", sa.BigInteger(), primary_key=True),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
    )
    op.create_table(
        "audit_signing_keys",
        sa.Column("key_name", sa.Text(), primary_key=True),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    )


def downgrade() -> None:
    # Refused while a log has entries: dropping them would erase the audit trail that tenants
    # were given checkpoints of (as 0038 refuses while versions are kept).
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT 1 FROM audit_log_entries LIMIT 1")).first() is not None:
        raise RuntimeError("the audit transparency log has entries: it cannot be dropped")
    op.drop_table("audit_signing_keys")
    op.drop_table("audit_log_nodes")
    op.drop_index("ix_audit_log_entries_log_id_id", table_name="audit_log_entries")
    op.drop_table("audit_log_entries")
    op.drop_table("audit_logs")
