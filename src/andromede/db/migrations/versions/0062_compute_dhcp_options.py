"""EC2 DHCP options sets (decision 0143): their compute table, JSON documents like the VPC
peering connections. Nothing is backfilled: each account's default set is stored on first
need, and a VPC names its set in its own document (``default`` in every VPC written before,
which stands for the account's default set).

Revision ID: 0062
Revises: 0060
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0062"
down_revision: str | None = "0061"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLE = "compute_dhcp_options"


def upgrade() -> None:
    op.create_table(
        _TABLE,
        sa.Column("id", key_text(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=True),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=f"pk_{_TABLE}"),
    )
    op.create_index(f"ix_{_TABLE}_tenant_id_id", _TABLE, ["tenant_id", "id"])


def downgrade() -> None:
    # A VPC associated with a set would name a set that is no more, and its hosts would keep
    # handing out the set's options: refused while one is (the accounts' default sets are
    # made again on first need; a VPC naming ``default`` or none loses nothing).
    bind = op.get_bind()
    associated = bind.execute(
        sa.text(
            "SELECT COUNT(*) FROM compute_vpcs"
            """ WHERE document LIKE '%"dhcp_options_id":"dopt-%'"""
        )
    ).scalar()
    if associated:
        raise RuntimeError(
            "VPCs are associated with DHCP options sets: the downgrade would lose them"
        )
    op.drop_table(_TABLE)
