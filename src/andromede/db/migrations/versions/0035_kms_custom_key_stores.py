"""KMS external key stores (decision 0090): ``kms_custom_key_stores``, a tenant's XKS proxy
and its SigV4 credential (the secret sealed), and, on ``kms_keys``, the store and external key
of a key of origin EXTERNAL_KEY_STORE (NULL for every other key), unique together.

Revision ID: 0035
Revises: 0034
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import UtcDateTime, key_text

revision: str = "0035"
down_revision: str | None = "0034"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "kms_custom_key_stores",
        sa.Column("store_id", key_text(), primary_key=True),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("store_type", sa.Text(), nullable=False),
        sa.Column("connectivity", sa.Text(), nullable=False),
        sa.Column("endpoint", sa.Text(), nullable=False),
        sa.Column("uri_path", sa.Text(), nullable=False),
        sa.Column("access_key_id", sa.Text(), nullable=False),
        sa.Column("sealed_secret", sa.Text(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("error_code", sa.Text(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("store_id", name=op.f("pk_kms_custom_key_stores")),
        sa.UniqueConstraint(
            "tenant_id", "name", name=op.f("uq_kms_custom_key_stores_tenant_id_name")
        ),
        sa.UniqueConstraint(
            "tenant_id",
            "endpoint",
            "uri_path",
            name=op.f("uq_kms_custom_key_stores_tenant_id_endpoint_uri_path"),
        ),
    )
    op.create_index(
        op.f("ix_kms_custom_key_stores_tenant_id_store_id"),
        "kms_custom_key_stores",
        ["tenant_id", "store_id"],
    )
    # Plain ALTER TABLE, as 0020, 0021 and 0032: no batch rebuild of a table others refer to.
    op.add_column("kms_keys", sa.Column("custom_key_store_id", sa.Text(), nullable=True))
    op.add_column("kms_keys", sa.Column("xks_key_id", sa.Text(), nullable=True))
    op.create_index(
        op.f("ix_kms_keys_custom_key_store_id_xks_key_id"),
        "kms_keys",
        ["custom_key_store_id", "xks_key_id"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_kms_keys_custom_key_store_id_xks_key_id"), table_name="kms_keys")
    op.drop_column("kms_keys", "xks_key_id")
    op.drop_column("kms_keys", "custom_key_store_id")
    op.drop_index(
        op.f("ix_kms_custom_key_stores_tenant_id_store_id"), table_name="kms_custom_key_stores"
    )
    op.drop_table("kms_custom_key_stores")
