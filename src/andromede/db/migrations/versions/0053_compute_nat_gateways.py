"""EC2 NAT gateways (decision 0129): their compute table, JSON documents like the route tables.
Nothing is backfilled: no NAT gateway existed before.

Revision ID: 0053
Revises: 0052
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0053"
down_revision: str | None = "0052"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLE = "compute_nat_gateways"


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
    # A NAT gateway's Elastic IP and interface records name it (their association), and route
    # tables route to it: dropping the table would leave addresses held by nothing and routes
    # to nothing. Refused while any row is there.
    bind = op.get_bind()
    if bind.execute(sa.text(f"SELECT COUNT(*) FROM {_TABLE}")).scalar():  # noqa: S608
        raise RuntimeError(f"{_TABLE} holds tenants' NAT gateways: the downgrade would lose them")
    op.drop_table(_TABLE)
