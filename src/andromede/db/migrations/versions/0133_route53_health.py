"""Route 53 health checks (decision 0285): ``route53_health_checks``, each account's checks,
their status and the checkers' rounds. Nothing to backfill: health checks were not served.

Revision ID: 0133
Revises: 0132
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0133"
down_revision: str | None = "0132"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "route53_health_checks",
        sa.Column("health_check_id", key_text(), nullable=False),
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("caller_reference", key_text(), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("next_check", sa.BigInteger(), nullable=False),
        sa.Column("claim", sa.Integer(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("health_check_id", name="pk_route53_health_checks"),
        sa.UniqueConstraint(
            "tenant_id",
            "caller_reference",
            name="uq_route53_health_checks_tenant_id_caller_reference",
        ),
    )
    op.create_index("ix_route53_health_checks_next_check", "route53_health_checks", ["next_check"])


def downgrade() -> None:
    op.drop_index("ix_route53_health_checks_next_check", table_name="route53_health_checks")
    op.drop_table("route53_health_checks")
