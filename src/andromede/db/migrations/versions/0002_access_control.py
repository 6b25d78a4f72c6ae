"""Access control: object ownership, bucket policy, Block Public Access, and ACLs.

Stored as columns of the rows they govern because the authoriser reads them on every request
together with the bucket or object: one row, no extra query. Buckets created before keep ACLs
disabled (BucketOwnerEnforced, what they behaved as) and have no Block Public Access
configuration; a NULL ACL means the owner's private ACL.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("buckets") as batch:
        batch.add_column(
            sa.Column(
                "object_ownership",
                sa.Text(),
                nullable=True,
                server_default="BucketOwnerEnforced",
            )
        )
        batch.add_column(sa.Column("policy", sa.Text(), nullable=True))
        batch.add_column(sa.Column("public_access_block", sa.Text(), nullable=True))
        batch.add_column(sa.Column("acl", sa.Text(), nullable=True))
    with op.batch_alter_table("objects") as batch:
        batch.add_column(sa.Column("acl", sa.Text(), nullable=True))
    with op.batch_alter_table("multipart_uploads") as batch:
        batch.add_column(sa.Column("acl", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("multipart_uploads") as batch:
        batch.drop_column("acl")
    with op.batch_alter_table("objects") as batch:
        batch.drop_column("acl")
    with op.batch_alter_table("buckets") as batch:
        batch.drop_column("acl")
        batch.drop_column("public_access_block")
        batch.drop_column("policy")
        batch.drop_column("object_ownership")
