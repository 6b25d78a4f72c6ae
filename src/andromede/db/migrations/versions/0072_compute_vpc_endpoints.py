"""VPC gateway endpoints (decision 0160): a compute table of JSON documents, one per endpoint.
Nothing is backfilled: no endpoint existed before.

Revision ID: 0072
Revises: 0071
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0072"
down_revision: str | None = "0071"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLE = "compute_vpc_endpoints"


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
    # An endpoint is a tenant's configuration (and its routes name it): the downgrade would
    # leave routes to nothing. Refused while one exists (its owner deletes it first).
    bind = op.get_bind()
    held = bind.execute(sa.text(f"SELECT COUNT(*) FROM {_TABLE}")).scalar()  # noqa: S608
    if held:
        raise RuntimeError(f"{_TABLE} holds VPC endpoints: the downgrade would lose them")
    op.drop_table(_TABLE)
