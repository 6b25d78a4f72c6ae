"""Subnets get a VXLAN id, unique in the database, so a tenant network can span hypervisors
(decision 0024). Existing subnets are given one as new ones are: derived from the subnet id,
the next free one when taken (the rule is copied here: a migration must not change when the
code does).

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SUBNETS = "compute_subnets"
_VNI_MAX = 2**24 - 1


def _vni(subnet_id: str, taken: set[int]) -> int:
    digest = hashlib.sha256(f"andromede-vni:{subnet_id}".encode()).digest()
    start = int.from_bytes(digest[:4], "big") % _VNI_MAX
    for offset in range(_VNI_MAX):
        candidate = (start + offset) % _VNI_MAX + 1
        if candidate not in taken:
            return candidate
    raise RuntimeError("every VXLAN id is taken")


def upgrade() -> None:
    with op.batch_alter_table(_SUBNETS) as batch:
        batch.add_column(sa.Column("vni", sa.Integer(), nullable=True))
    subnets = sa.table(_SUBNETS, sa.column("id", sa.Text()), sa.column("vni", sa.Integer()))
    connection = op.get_bind()
    taken: set[int] = set()
    for (subnet_id,) in connection.execute(sa.select(subnets.c.id).order_by(subnets.c.id)).all():
        vni = _vni(subnet_id, taken)
        taken.add(vni)
        connection.execute(subnets.update().where(subnets.c.id == subnet_id).values(vni=vni))
    with op.batch_alter_table(_SUBNETS) as batch:
        batch.alter_column("vni", existing_type=sa.Integer(), nullable=False)
        batch.create_unique_constraint(f"uq_{_SUBNETS}_vni", ["vni"])


def downgrade() -> None:
    with op.batch_alter_table(_SUBNETS) as batch:
        batch.drop_constraint(f"uq_{_SUBNETS}_vni", type_="unique")
        batch.drop_column("vni")
