"""Secondary private addresses of network interfaces (decision 0161): a compute table of JSON
documents, one per address, its id the subnet and the address. Nothing is backfilled: no
interface had a secondary address before.

Revision ID: 0073
Revises: 0072
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0073"
down_revision: str | None = "0072"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLE = "compute_private_addresses"


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
    # The addresses would lose their holders: refused while an interface holds one.
    bind = op.get_bind()
    held = bind.execute(sa.text(f"SELECT COUNT(*) FROM {_TABLE}")).scalar()  # noqa: S608
    if held:
        raise RuntimeError(f"{_TABLE} holds addresses: the downgrade would lose them")
    op.drop_table(_TABLE)
