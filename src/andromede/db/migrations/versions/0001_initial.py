"""Initial schema: identity, audit and object storage.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import UtcDateTime, big_id, key_text

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # -- identity ---------------------------------------------------------------------------
    op.create_table(
        "tenants",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tenants"),
        sa.UniqueConstraint("name", name="uq_tenants_name"),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("is_root", sa.Boolean(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name="fk_users_tenant_id_tenants"),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("tenant_id", "name", name="uq_users_tenant_id_name"),
    )
    op.create_table(
        "access_keys",
        sa.Column("access_key_id", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("secret_sealed", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("last_used_at", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_access_keys_user_id_users"),
        sa.PrimaryKeyConstraint("access_key_id", name="pk_access_keys"),
    )

    # -- audit ------------------------------------------------------------------------------
    op.create_table(
        "audit_events",
        sa.Column("id", big_id(), autoincrement=True, nullable=False),
        sa.Column("occurred_at", UtcDateTime(), nullable=False),
        sa.Column("request_id", sa.Text(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=True),
        sa.Column("principal", sa.Text(), nullable=True),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("resource", sa.Text(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_events"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_audit_events_tenant_id_id", "audit_events", ["tenant_id", "id"])

    # -- object storage ---------------------------------------------------------------------
    op.create_table(
        "buckets",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("owner_id", sa.Text(), nullable=False),
        sa.Column("region", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_buckets"),
    )
    op.create_index("ix_buckets_tenant_id_name", "buckets", ["tenant_id", "name"])

    op.create_table(
        "objects",
        sa.Column("bucket", sa.Text(), nullable=False),
        sa.Column("key", key_text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("etag", sa.Text(), nullable=False),
        sa.Column("last_modified", UtcDateTime(), nullable=False),
        sa.Column("owner_id", sa.Text(), nullable=False),
        sa.Column("checksum_algorithm", sa.Text(), nullable=True),
        sa.Column("checksum_type", sa.Text(), nullable=True),
        sa.Column("checksum_value", sa.Text(), nullable=True),
        sa.Column("headers", sa.Text(), nullable=False),
        sa.Column("segments", sa.Text(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["bucket"], ["buckets.name"], name="fk_objects_bucket_buckets"),
        sa.PrimaryKeyConstraint("bucket", "key", name="pk_objects"),
    )

    op.create_table(
        "object_blobs",
        sa.Column("blob_id", sa.Text(), nullable=False),
        sa.Column("bucket", sa.Text(), nullable=False),
        sa.Column("key", key_text(), nullable=False),
        sa.PrimaryKeyConstraint("blob_id", name="pk_object_blobs"),
    )
    op.create_index("ix_object_blobs_bucket_key", "object_blobs", ["bucket", "key"])

    op.create_table(
        "multipart_uploads",
        sa.Column("upload_id", sa.Text(), nullable=False),
        sa.Column("bucket", sa.Text(), nullable=False),
        sa.Column("key", key_text(), nullable=False),
        sa.Column("initiated", UtcDateTime(), nullable=False),
        sa.Column("owner_id", sa.Text(), nullable=False),
        sa.Column("headers", sa.Text(), nullable=False),
        sa.Column("checksum_algorithm", sa.Text(), nullable=True),
        sa.Column("checksum_type", sa.Text(), nullable=True),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["bucket"], ["buckets.name"], name="fk_multipart_uploads_bucket_buckets"
        ),
        sa.PrimaryKeyConstraint("upload_id", name="pk_multipart_uploads"),
    )
    op.create_index(
        "ix_multipart_uploads_bucket_key_initiated_upload_id",
        "multipart_uploads",
        ["bucket", "key", "initiated", "upload_id"],
    )

    op.create_table(
        "parts",
        sa.Column("upload_id", sa.Text(), nullable=False),
        sa.Column("part_number", sa.Integer(), nullable=False),
        sa.Column("blob_id", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("etag", sa.Text(), nullable=False),
        sa.Column("last_modified", UtcDateTime(), nullable=False),
        sa.Column("checksum_algorithm", sa.Text(), nullable=True),
        sa.Column("checksum_type", sa.Text(), nullable=True),
        sa.Column("checksum_value", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["upload_id"],
            ["multipart_uploads.upload_id"],
            name="fk_parts_upload_id_multipart_uploads",
        ),
        sa.PrimaryKeyConstraint("upload_id", "part_number", name="pk_parts"),
    )
    op.create_index("ix_parts_blob_id", "parts", ["blob_id"])

    op.create_table(
        "blob_deletions",
        sa.Column("id", big_id(), autoincrement=True, nullable=False),
        sa.Column("blob_id", sa.Text(), nullable=False),
        sa.Column("not_before", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_blob_deletions"),
    )
    op.create_index("ix_blob_deletions_blob_id", "blob_deletions", ["blob_id"])
    op.create_index("ix_blob_deletions_not_before", "blob_deletions", ["not_before"])


def downgrade() -> None:
    for table in (
        "blob_deletions",
        "parts",
        "multipart_uploads",
        "object_blobs",
        "objects",
        "buckets",
        "audit_events",
        "access_keys",
        "users",
        "tenants",
    ):
        op.drop_table(table)
