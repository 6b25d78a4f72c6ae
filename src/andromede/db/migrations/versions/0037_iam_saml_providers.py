"""IAM SAML providers, and the SAML assertions already used: the identity providers whose
signed assertions may assume an account's roles through STS AssumeRoleWithSAML, each assertion
once (decision 0095).

Revision ID: 0037
Revises: 0036
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import UtcDateTime

revision: str = "0037"
down_revision: str | None = "0036"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "iam_saml_providers",
        sa.Column("tenant_id", sa.Text(), sa.ForeignKey("tenants.id"), primary_key=True),
        sa.Column("name", sa.Text(), primary_key=True),
        sa.Column("uuid", sa.Text(), nullable=False),
        sa.Column("metadata", sa.Text(), nullable=False),
        sa.Column("entity_id", sa.Text(), nullable=False),
        sa.Column("certificates", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("valid_until", UtcDateTime(), nullable=True),
        sa.Column("tags", sa.Text(), nullable=True),
    )
    op.create_table(
        "iam_saml_assertions",
        sa.Column("tenant_id", sa.Text(), primary_key=True),
        sa.Column("assertion_key", sa.Text(), primary_key=True),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_iam_saml_assertions_expires_at", "iam_saml_assertions", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_iam_saml_assertions_expires_at", table_name="iam_saml_assertions")
    op.drop_table("iam_saml_assertions")
    op.drop_table("iam_saml_providers")
