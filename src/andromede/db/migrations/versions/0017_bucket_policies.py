"""Bucket policies out of the bucket row: their text in ``bucket_policies``, their SHA-256 in
``buckets.policy_digest`` (docs/decisions/0034-bucket-policy-out-of-the-bucket-row.md).

Every S3 request reads its bucket's row. With the policy (up to 20 KiB) in it, SQLite walked
the text's overflow pages and PostgreSQL fetched it from TOAST on every read, even when the
gateway already held that text; the row now carries only the digest that says so.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_buckets = sa.table(
    "buckets",
    sa.column("name", sa.Text()),
    sa.column("policy", sa.Text()),
    sa.column("policy_digest", sa.Text()),
)
_bucket_policies = sa.table(
    "bucket_policies", sa.column("bucket", sa.Text()), sa.column("policy", sa.Text())
)


def _digest(text: str) -> str:
    # What andromede.storage.store_sql computes (kept here: a migration does not change when
    # the application code does).
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def upgrade() -> None:
    op.create_table(
        "bucket_policies",
        sa.Column("bucket", sa.Text, sa.ForeignKey("buckets.name"), primary_key=True),
        sa.Column("policy", sa.Text, nullable=False),
    )
    op.add_column("buckets", sa.Column("policy_digest", sa.Text, nullable=True))
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(_buckets.c.name, _buckets.c.policy).where(_buckets.c.policy.is_not(None))
    ).all()
    for name, policy in rows:
        connection.execute(sa.insert(_bucket_policies).values(bucket=name, policy=policy))
        connection.execute(
            sa.update(_buckets).where(_buckets.c.name == name).values(policy_digest=_digest(policy))
        )
    # Plain ALTER TABLE on both databases (SQLite has it since 3.35): a batch rebuild of the
    # table would drop and recreate a table the objects and uploads refer to.
    op.execute("ALTER TABLE buckets DROP COLUMN policy")


def downgrade() -> None:
    op.add_column("buckets", sa.Column("policy", sa.Text, nullable=True))
    connection = op.get_bind()
    rows = connection.execute(sa.select(_bucket_policies.c.bucket, _bucket_policies.c.policy))
    for name, policy in rows.all():
        connection.execute(sa.update(_buckets).where(_buckets.c.name == name).values(policy=policy))
    op.execute("ALTER TABLE buckets DROP COLUMN policy_digest")
    op.drop_table("bucket_policies")
