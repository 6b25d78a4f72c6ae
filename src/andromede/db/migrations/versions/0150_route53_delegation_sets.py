"""Route 53's reusable delegation sets (decision 0346): ``route53_delegation_sets``, each set's
name servers as chosen when it was made, one caller reference an account. Nothing to
backfill: reusable delegation sets were refused. (A zone's set and its VPC association
authorisations are new optional fields of its JSON definition: no column.)

Revision ID: 0150
Revises: 0149
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0150"
down_revision: str | None = "0149"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "route53_delegation_sets",
        sa.Column("set_id", key_text(), nullable=False),
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("caller_reference", key_text(), nullable=False),
        sa.Column("name_servers", sa.Text(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("set_id", name="pk_route53_delegation_sets"),
        sa.UniqueConstraint(
            "tenant_id",
            "caller_reference",
            name="uq_route53_delegation_sets_tenant_id_caller_reference",
        ),
    )


def downgrade() -> None:
    op.drop_table("route53_delegation_sets")
