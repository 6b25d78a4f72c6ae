"""EC2 network ACLs (decision 0128): their compute table, JSON documents like the route tables.
Nothing is backfilled here: a VPC's default ACL (associated with its subnets) is made by the
first call that needs the VPC's ACLs, which the VPC's ``network_acl_made`` says.

Revision ID: 0052
Revises: 0051
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0052"
down_revision: str | None = "0051"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLE = "compute_network_acls"


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
    # The VPCs' documents say their default ACL is stored (``network_acl_made``), and tenants'
    # own ACLs filter their subnets' traffic: dropping the table would leave subnets without
    # an ACL and open what their owners closed. Refused while any row is there.
    bind = op.get_bind()
    if bind.execute(sa.text(f"SELECT COUNT(*) FROM {_TABLE}")).scalar():  # noqa: S608
        raise RuntimeError(f"{_TABLE} holds tenants' network ACLs: the downgrade would lose them")
    op.drop_table(_TABLE)
