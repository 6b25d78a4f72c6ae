"""KMS imported key material: ``kms_keys`` gains ``has_material``, ``key_material_id``,
``expiration_model`` and ``valid_to`` (decision 0046). The keys made so far all have material
their ring generated: ``has_material`` true, the others NULL.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import UtcDateTime

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ALTER TABLE, as 0020: no batch rebuild of a table others refer to.
    op.add_column(
        "kms_keys",
        sa.Column("has_material", sa.Boolean(), nullable=False, server_default=sa.true()),
    )
    op.add_column("kms_keys", sa.Column("key_material_id", sa.Text(), nullable=True))
    op.add_column("kms_keys", sa.Column("expiration_model", sa.Text(), nullable=True))
    op.add_column("kms_keys", sa.Column("valid_to", UtcDateTime(), nullable=True))
    op.create_index(op.f("ix_kms_keys_valid_to"), "kms_keys", ["valid_to"])


def downgrade() -> None:
    op.drop_index(op.f("ix_kms_keys_valid_to"), table_name="kms_keys")
    for column in ("valid_to", "expiration_model", "key_material_id", "has_material"):
        op.drop_column("kms_keys", column)
