"""EC2 internet gateways and route tables (decision 0121): each kind its compute table, JSON
documents like the other compute records. Nothing is backfilled here: a VPC's main route table
(and, for a VPC made before this revision, the internet gateway it was in effect routed
through) is made by the first call that needs the VPC's routing, which the VPC's
``routing_made`` says.

Revision ID: 0047
Revises: 0046
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0047"
down_revision: str | None = "0046"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ("compute_internet_gateways", "compute_route_tables")


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
    # The VPCs' documents say their routing is stored (``routing_made``): dropping the tables
    # under them would leave VPCs without a main table. Refused while any row is there.
    bind = op.get_bind()
    for name in _TABLES:
        if bind.execute(sa.text(f"SELECT COUNT(*) FROM {name}")).scalar():  # noqa: S608
            raise RuntimeError(f"{name} holds tenants' records: the downgrade would lose them")
    for name in reversed(_TABLES):
        op.drop_table(name)
