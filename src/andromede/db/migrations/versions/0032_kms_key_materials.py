"""KMS keys with several imported materials (decision 0085): ``kms_keys`` gains ``materials``,
a symmetric EXTERNAL key's materials by ring version (JSON), and ``material_expiry``, the first
expiry of any material its ring holds (what upkeep looks for; until now ``valid_to``, which
stays the current material's).

Keys imported before keep ``materials`` NULL: their one material is read from the columns of
0021 (the first material, current, version 1), and written as JSON at their next change.

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import UtcDateTime

revision: str = "0032"
down_revision: str | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ALTER TABLE, as 0020 and 0021: no batch rebuild of a table others refer to.
    op.add_column("kms_keys", sa.Column("materials", sa.Text(), nullable=True))
    op.add_column("kms_keys", sa.Column("material_expiry", UtcDateTime(), nullable=True))
    op.execute(
        "UPDATE kms_keys SET material_expiry = valid_to WHERE has_material AND valid_to IS NOT NULL"
    )
    op.create_index(op.f("ix_kms_keys_material_expiry"), "kms_keys", ["material_expiry"])


def downgrade() -> None:
    op.drop_index(op.f("ix_kms_keys_material_expiry"), table_name="kms_keys")
    op.drop_column("kms_keys", "material_expiry")
    op.drop_column("kms_keys", "materials")
