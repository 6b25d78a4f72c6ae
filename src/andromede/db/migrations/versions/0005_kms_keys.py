"""Customer-managed KMS keys: key metadata and aliases (the key material stays in the root-key
provider, never in the database).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import UtcDateTime, key_text

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "kms_keys",
        sa.Column("key_id", key_text(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("region", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("key_usage", sa.Text(), nullable=False),
        sa.Column("key_spec", sa.Text(), nullable=False),
        sa.Column("origin", sa.Text(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("deletion_date", UtcDateTime(), nullable=True),
        sa.Column("rotation_enabled", sa.Boolean(), nullable=False),
        sa.Column("rotation_period_days", sa.Integer(), nullable=False),
        sa.Column("next_rotation_date", UtcDateTime(), nullable=True),
        sa.Column("policy", sa.Text(), nullable=False),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("key_id", name="pk_kms_keys"),
    )
    op.create_index("ix_kms_keys_tenant_id_key_id", "kms_keys", ["tenant_id", "key_id"])
    op.create_index("ix_kms_keys_deletion_date", "kms_keys", ["deletion_date"])
    op.create_index("ix_kms_keys_next_rotation_date", "kms_keys", ["next_rotation_date"])
    op.create_table(
        "kms_aliases",
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("name", key_text(), nullable=False),
        sa.Column("key_id", key_text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["key_id"], ["kms_keys.key_id"], name="fk_kms_aliases_key_id_kms_keys"
        ),
        sa.PrimaryKeyConstraint("tenant_id", "name", name="pk_kms_aliases"),
    )
    op.create_index("ix_kms_aliases_key_id", "kms_aliases", ["key_id"])


def downgrade() -> None:
    op.drop_index("ix_kms_aliases_key_id", table_name="kms_aliases")
    op.drop_table("kms_aliases")
    op.drop_index("ix_kms_keys_next_rotation_date", table_name="kms_keys")
    op.drop_index("ix_kms_keys_deletion_date", table_name="kms_keys")
    op.drop_index("ix_kms_keys_tenant_id_key_id", table_name="kms_keys")
    op.drop_table("kms_keys")
