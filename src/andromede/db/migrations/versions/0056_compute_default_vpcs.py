"""Which VPC is each tenant's default (decision 0137): its compute table, JSON documents like
the VPCs. Nothing is backfilled: a tenant without a row has the default VPC derived from its
id, as before.

Revision ID: 0056
Revises: 0055
Create Date: 2026-12-05
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0056"
down_revision: str | None = "0055"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLE = "compute_default_vpcs"


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
    # Without the table, a tenant that deleted its default VPC would have the derived one made
    # again on first need, and one made by CreateDefaultVpc would no longer be its default;
    # nor would a default subnet made by CreateDefaultSubnet (amendment of 2026-12-05).
    # Refused while a row says other than the derived default VPC and subnet; rows naming
    # them (written when they are made) lose nothing.
    bind = op.get_bind()
    for tenant_id, document in bind.execute(sa.text(f"SELECT tenant_id, document FROM {_TABLE}")):  # noqa: S608
        state = json.loads(document)
        derived_subnet_id = _derived("subnet", tenant_id)
        if state.get("vpc_id") != _derived("vpc", tenant_id) or (
            state.get("subnet_id", derived_subnet_id) != derived_subnet_id
        ):
            raise RuntimeError(
                f"{_TABLE} says which tenants deleted or made again their default VPC or "
                "subnet: the downgrade would lose it"
            )
    op.drop_table(_TABLE)


def _derived(prefix: str, tenant_id: str) -> str:
    # compute.network.default_ids as of this revision (a migration keeps its own copy).
    digest = hashlib.sha256(f"andromede-default-{prefix}:{tenant_id}".encode()).hexdigest()
    return f"{prefix}-{digest[:17]}"
