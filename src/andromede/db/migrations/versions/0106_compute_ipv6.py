"""IPv6 in VPCs (decision 0217): two compute tables of JSON documents, the /56 blocks of the
operator's pool given to VPCs (the id the block) and the IPv6 addresses interfaces hold (the
id the address), so no two gateways give one out twice. Nothing is backfilled: no VPC had an
IPv6 block before.

Revision ID: 0106
Revises: 0105
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0106"
down_revision: str | None = "0105"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ("compute_ipv6_blocks", "compute_ipv6_addresses")


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
    # The VPCs' and interfaces' records would name blocks and addresses nobody holds: refused
    # while any is held.
    bind = op.get_bind()
    for table in _TABLES:
        held = bind.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar()  # noqa: S608
        if held:
            raise RuntimeError(f"{table} is not empty: the downgrade would lose what it holds")
    for table in reversed(_TABLES):
        op.drop_table(table)
