"""Each tenant's instance metadata defaults (decision 0145): a compute table of JSON documents,
one row per tenant. Nothing is backfilled: a tenant without a row has no preference.

Revision ID: 0063
Revises: 0061
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0063"
down_revision: str | None = "0062"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLE = "compute_metadata_defaults"


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
    # Without the table, launches would no longer take a tenant's defaults: refused while a
    # tenant has one set, so that no instance is launched other than its account says.
    bind = op.get_bind()
    count = bind.execute(sa.text(f"SELECT COUNT(*) FROM {_TABLE}")).scalar_one()  # noqa: S608
    if count:
        raise RuntimeError(
            f"{_TABLE} holds {count} tenants' instance metadata defaults: the downgrade would "
            "lose them (ModifyInstanceMetadataDefaults with no-preference clears them)"
        )
    op.drop_table(_TABLE)
