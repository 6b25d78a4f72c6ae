"""IAM OpenID Connect providers: the identity providers whose tokens may assume an account's
roles through STS AssumeRoleWithWebIdentity (decision 0087).

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import UtcDateTime

revision: str = "0033"
down_revision: str | None = "0032"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "iam_oidc_providers",
        sa.Column("tenant_id", sa.Text(), sa.ForeignKey("tenants.id"), primary_key=True),
        sa.Column("url", sa.Text(), primary_key=True),
        sa.Column("client_ids", sa.Text(), nullable=False),
        sa.Column("thumbprints", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("tags", sa.Text(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("iam_oidc_providers")
