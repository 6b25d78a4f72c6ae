"""EC2 VPC peering connections (decision 0139): their compute table, JSON documents like the
NAT gateways. Nothing is backfilled: no peering connection existed before.

Revision ID: 0058
Revises: 0057
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0058"
down_revision: str | None = "0057"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLE = "compute_vpc_peering_connections"


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
    # Route tables of both sides route to the connections, and the hosts let the peered VPCs'
    # instances reach each other by them: dropping the table would turn those routes into
    # routes to nothing. Refused while any row is there.
    bind = op.get_bind()
    if bind.execute(sa.text(f"SELECT COUNT(*) FROM {_TABLE}")).scalar():  # noqa: S608
        raise RuntimeError(
            f"{_TABLE} holds tenants' VPC peering connections: the downgrade would lose them"
        )
    op.drop_table(_TABLE)
