"""Scheduled rotation of the audit log signing key (decision 0140's addendum): on the current
key's row, ``rotation_claimed_until`` (the gateway that claimed the due rotation, until when:
the others leave it alone) and ``sealed_key`` (the current key's seed sealed under the
region's ``secrets.key`` when a rotation made it in a key file, so that every gateway installs
it without its operator copying it; never the seed in clear). Both empty for every existing
row: nothing is claimed, and the key files stay where the operator put them.

Revision ID: 0061
Revises: 0060
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import UtcDateTime

revision: str = "0061"
down_revision: str | None = "0060"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("audit_signing_keys") as batch:
        batch.add_column(sa.Column("rotation_claimed_until", UtcDateTime(), nullable=True))
        batch.add_column(sa.Column("sealed_key", sa.Text(), nullable=True))


def downgrade() -> None:
    # A gateway without the key file then says which file to copy (decision 0140).
    with op.batch_alter_table("audit_signing_keys") as batch:
        batch.drop_column("sealed_key")
        batch.drop_column("rotation_claimed_until")
