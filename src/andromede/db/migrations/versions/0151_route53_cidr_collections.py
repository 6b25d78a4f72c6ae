"""Route 53's CIDR collections (decision 0353): ``route53_cidr_collections``, each collection's
locations and blocks as one JSON text written whole on its version, one name an account.
Nothing to backfill: CIDR collections were refused.

Revision ID: 0151
Revises: 0150
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0151"
down_revision: str | None = "0150"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "route53_cidr_collections",
        sa.Column("collection_id", key_text(), nullable=False),
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("name", key_text(), nullable=False),
        sa.Column("caller_reference", sa.Text(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("locations", sa.Text(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("collection_id", name="pk_route53_cidr_collections"),
        sa.UniqueConstraint("tenant_id", "name", name="uq_route53_cidr_collections_tenant_id_name"),
    )


def downgrade() -> None:
    op.drop_table("route53_cidr_collections")
