"""Spot Instances (decision 0202): two compute tables of JSON documents, the Spot Instance
requests and the Spot price history. Nothing is backfilled: there was no Spot before.

Revision ID: 0099
Revises: 0098
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0099"
down_revision: str | None = "0098"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ("compute_spot_requests", "compute_spot_prices")


def upgrade() -> None:
    for table in _TABLES:
        op.create_table(
            table,
            sa.Column("id", key_text(), nullable=False),
            sa.Column("tenant_id", sa.Text(), nullable=True),
            sa.Column("document", sa.Text(), nullable=False),
            sa.Column("format_version", sa.Integer(), nullable=False),
            sa.Column("revision", sa.BigInteger(), nullable=False),
            sa.PrimaryKeyConstraint("id", name=f"pk_{table}"),
        )
        op.create_index(f"ix_{table}_tenant_id_id", table, ["tenant_id", "id"])


def downgrade() -> None:
    # Spot Instances would lose their requests: refused while a request is held.
    bind = op.get_bind()
    held = bind.execute(sa.text("SELECT COUNT(*) FROM compute_spot_requests")).scalar()
    if held:
        raise RuntimeError("compute_spot_requests holds requests: the downgrade would lose them")
    for table in reversed(_TABLES):
        op.drop_table(table)
