"""KMS grants: ``kms_grants`` keeps each grant (CreateGrant) of a key, its grantee, retiring
principal, operations and encryption-context constraint, until it is retired or revoked or its
key is removed.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import UtcDateTime, key_text

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "kms_grants",
        sa.Column("grant_id", key_text(), nullable=False),
        sa.Column("key_id", key_text(), nullable=False),
        sa.Column("key_tenant", sa.Text(), nullable=False),
        sa.Column("grantee", sa.Text(), nullable=False),
        sa.Column("retiring", sa.Text(), nullable=True),
        sa.Column("operations", sa.Text(), nullable=False),
        sa.Column("constraints", sa.Text(), nullable=False),
        sa.Column("issuer", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["key_id"], ["kms_keys.key_id"], name="fk_kms_grants_key_id_kms_keys"
        ),
        sa.PrimaryKeyConstraint("grant_id", name="pk_kms_grants"),
    )
    op.create_index("ix_kms_grants_key_id_grantee", "kms_grants", ["key_id", "grantee"])
    op.create_index("ix_kms_grants_retiring_grant_id", "kms_grants", ["retiring", "grant_id"])


def downgrade() -> None:
    op.drop_index("ix_kms_grants_retiring_grant_id", table_name="kms_grants")
    op.drop_index("ix_kms_grants_key_id_grantee", table_name="kms_grants")
    op.drop_table("kms_grants")
