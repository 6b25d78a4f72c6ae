"""Tenant networks: VPCs, subnets and network interfaces, the last with the columns the
database keeps unique (a private address within its subnet, a MAC address) so that two gateways
launching at once never give one address twice.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DOCUMENT_TABLES = ("compute_vpcs", "compute_subnets")
_INTERFACES = "compute_network_interfaces"


def _document_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("id", key_text(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=True),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
    ]


def upgrade() -> None:
    for name in _DOCUMENT_TABLES:
        op.create_table(
            name, *_document_columns(), sa.PrimaryKeyConstraint("id", name=f"pk_{name}")
        )
        op.create_index(f"ix_{name}_tenant_id_id", name, ["tenant_id", "id"])
    op.create_table(
        _INTERFACES,
        *_document_columns(),
        sa.Column("subnet_id", key_text(), nullable=False),
        sa.Column("private_ip", key_text(), nullable=False),
        sa.Column("mac", key_text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=f"pk_{_INTERFACES}"),
        sa.UniqueConstraint(
            "subnet_id", "private_ip", name=f"uq_{_INTERFACES}_subnet_id_private_ip"
        ),
        sa.UniqueConstraint("mac", name=f"uq_{_INTERFACES}_mac"),
    )
    op.create_index(f"ix_{_INTERFACES}_tenant_id_id", _INTERFACES, ["tenant_id", "id"])


def downgrade() -> None:
    op.drop_index(f"ix_{_INTERFACES}_tenant_id_id", table_name=_INTERFACES)
    op.drop_table(_INTERFACES)
    for name in reversed(_DOCUMENT_TABLES):
        op.drop_index(f"ix_{name}_tenant_id_id", table_name=name)
        op.drop_table(name)
