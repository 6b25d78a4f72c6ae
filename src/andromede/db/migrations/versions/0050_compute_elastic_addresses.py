"""EC2 Elastic IPs (decision 0125): their compute table, JSON documents like the other compute
records, with the public address as a column the database keeps unique — one tenant holds an
address of the region's pool at a time, whichever gateway allocated it.

Revision ID: 0050
Revises: 0049
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0050"
down_revision: str | None = "0049"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLE = "compute_elastic_addresses"


def upgrade() -> None:
    op.create_table(
        _TABLE,
        sa.Column("id", key_text(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=True),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("public_ip", key_text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=f"pk_{_TABLE}"),
        sa.UniqueConstraint("public_ip", name=f"uq_{_TABLE}_public_ip"),
    )
    op.create_index(f"ix_{_TABLE}_tenant_id_id", _TABLE, ["tenant_id", "id"])


def downgrade() -> None:
    # Tenants' addresses (and the instances' copies of their associations) would be lost, and
    # an address handed out again to another tenant: refused while any is held.
    bind = op.get_bind()
    if bind.execute(sa.text(f"SELECT COUNT(*) FROM {_TABLE}")).scalar():  # noqa: S608
        raise RuntimeError(f"{_TABLE} holds tenants' addresses: the downgrade would lose them")
    op.drop_table(_TABLE)
