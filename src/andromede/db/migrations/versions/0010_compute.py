"""Compute: instances, volumes, snapshots, images, key pairs, security groups, import tasks.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = (
    "compute_instances",
    "compute_volumes",
    "compute_snapshots",
    "compute_images",
    "compute_key_pairs",
    "compute_security_groups",
    "compute_import_tasks",
)


def upgrade() -> None:
    for name in _TABLES:
        op.create_table(
            name,
            sa.Column("id", key_text(), nullable=False),
            sa.Column("tenant_id", sa.Text(), nullable=True),
            sa.Column("document", sa.Text(), nullable=False),
            sa.Column("format_version", sa.Integer(), nullable=False),
            sa.Column("revision", sa.BigInteger(), nullable=False),
            sa.PrimaryKeyConstraint("id", name=f"pk_{name}"),
        )
        op.create_index(f"ix_{name}_tenant_id_id", name, ["tenant_id", "id"])


def downgrade() -> None:
    for name in reversed(_TABLES):
        op.drop_index(f"ix_{name}_tenant_id_id", table_name=name)
        op.drop_table(name)
