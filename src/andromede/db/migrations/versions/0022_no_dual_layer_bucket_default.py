"""A bucket default of ``aws:kms:dsse`` becomes ``aws:kms``, what its objects got (decision 0052).

Until now PutBucketEncryption took ``aws:kms:dsse`` (dual-layer SSE-KMS) and wrote the bucket's
objects with one layer of SSE-KMS under the named key, while GetBucketEncryption kept answering
``aws:kms:dsse``. The setting now says what is done: the same key and bucket-key choice, with
the algorithm the objects were and are written with. The change is not undone by a downgrade:
no object was ever written with two layers.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The column holds BucketEncryption.to_json(): [algorithm, key id, bucket key]; the algorithm
    # is the first JSON string, and replace() is the same function in SQLite and PostgreSQL.
    op.execute(
        "UPDATE buckets SET encryption = replace(encryption, '[\"aws:kms:dsse\",', '[\"aws:kms\",')"
        " WHERE encryption LIKE '[\"aws:kms:dsse\",%'"
    )


def downgrade() -> None:
    pass
