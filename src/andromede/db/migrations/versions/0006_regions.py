"""Regions and data residency: the region of each part and queued blob deletion, and the
regions each tenant may create buckets in.

A bucket's region was already a column of ``buckets``. Objects record the region of each
segment in their segments JSON (an optional key: rows written before this revision have none
and their blobs are in the default region's store, where they always were), so no object
column is new. Parts and the deletion queue get a nullable ``region`` column with the same
meaning for NULL. ``tenant_regions`` holds a tenant's allow-list; no row means every region.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("parts") as batch:
        batch.add_column(sa.Column("region", sa.Text(), nullable=True))
    with op.batch_alter_table("blob_deletions") as batch:
        batch.add_column(sa.Column("region", sa.Text(), nullable=True))
    op.create_table(
        "tenant_regions",
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("region", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_tenant_regions_tenant_id_tenants"
        ),
        sa.PrimaryKeyConstraint("tenant_id", "region", name="pk_tenant_regions"),
    )


def downgrade() -> None:
    op.drop_table("tenant_regions")
    with op.batch_alter_table("blob_deletions") as batch:
        batch.drop_column("region")
    with op.batch_alter_table("parts") as batch:
        batch.drop_column("region")
