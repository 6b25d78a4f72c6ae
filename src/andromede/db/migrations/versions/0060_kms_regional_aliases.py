"""KMS aliases per region (decision 0138, "Aliases per region"): ``kms_aliases.region``, and
the primary key (tenant_id, region, name), so that one name is one alias in each region, as on
AWS. An existing alias gets the region of the key it points at (its ``kms_keys`` row, which is
how the key store knows a key's region; the foreign key guarantees that row exists).

Revision ID: 0060
Revises: 0059
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0060"
down_revision: str | None = "0059"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("kms_aliases") as batch:
        batch.add_column(sa.Column("region", sa.Text(), nullable=True))
    op.execute(
        "UPDATE kms_aliases SET region = (SELECT kms_keys.region FROM kms_keys "
        "WHERE kms_keys.key_id = kms_aliases.key_id)"
    )
    with op.batch_alter_table("kms_aliases") as batch:
        batch.alter_column("region", existing_type=sa.Text(), nullable=False)
        batch.drop_constraint("pk_kms_aliases", type_="primary")
        batch.create_primary_key("pk_kms_aliases", ["tenant_id", "region", "name"])


def downgrade() -> None:
    # One name in two regions would be two rows of one (tenant_id, name): refused while one
    # exists (delete one of them first).
    bind = op.get_bind()
    count = bind.execute(
        sa.text(
            "SELECT COUNT(*) FROM (SELECT tenant_id, name FROM kms_aliases "
            "GROUP BY tenant_id, name HAVING COUNT(*) > 1) AS taken"
        )
    ).scalar_one()
    if count:
        raise RuntimeError(
            f"{count} KMS alias name(s) exist in more than one region: delete all but one "
            "of each before downgrading"
        )
    with op.batch_alter_table("kms_aliases") as batch:
        batch.drop_constraint("pk_kms_aliases", type_="primary")
        batch.create_primary_key("pk_kms_aliases", ["tenant_id", "name"])
        batch.drop_column("region")
