"""KMS key rotations recorded: ``kms_key_rotations`` keeps each completed rotation of a key's
material (its date and whether it was automatic or on demand), for ListKeyRotations and for the
quota on on-demand rotations. Rotations made before this revision were not recorded; the table
starts empty.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import UtcDateTime, big_id, key_text

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "kms_key_rotations",
        sa.Column("id", big_id(), autoincrement=True, nullable=False),
        sa.Column("key_id", key_text(), nullable=False),
        sa.Column("rotated_at", UtcDateTime(), nullable=False),
        sa.Column("rotation_type", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["key_id"], ["kms_keys.key_id"], name="fk_kms_key_rotations_key_id_kms_keys"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_kms_key_rotations"),
    )
    op.create_index("ix_kms_key_rotations_key_id_id", "kms_key_rotations", ["key_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_kms_key_rotations_key_id_id", table_name="kms_key_rotations")
    op.drop_table("kms_key_rotations")
