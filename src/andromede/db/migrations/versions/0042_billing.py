"""Metering and billing (decision 0108): usage per tenant, hour, region and meter, the
samplers' watermarks, the open instance runs, and the price catalogue (prices per region and
meter, a VAT rate per region, as decimal text).

Revision ID: 0042
Revises: 0041
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import UtcDateTime

revision: str = "0042"
down_revision: str | None = "0041"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "billing_usage",
        sa.Column("tenant_id", sa.Text(), primary_key=True),
        sa.Column("hour", UtcDateTime(), primary_key=True),
        sa.Column("region", sa.Text(), primary_key=True),
        sa.Column("meter", sa.Text(), primary_key=True),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "billing_samplers",
        sa.Column("name", sa.Text(), primary_key=True),
        sa.Column("sampled_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "billing_runs",
        sa.Column("resource_id", sa.Text(), primary_key=True),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("region", sa.Text(), nullable=False),
        sa.Column("meter", sa.Text(), nullable=False),
        sa.Column("started_at", UtcDateTime(), nullable=False),
        sa.Column("billed_until", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "billing_prices",
        sa.Column("region", sa.Text(), primary_key=True),
        sa.Column("meter", sa.Text(), primary_key=True),
        sa.Column("unit_price", sa.Text(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "billing_vat_rates",
        sa.Column("region", sa.Text(), primary_key=True),
        sa.Column("rate", sa.Text(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )


def downgrade() -> None:
    # Usage is what invoices are made from: refuse to drop it once recorded.
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT 1 FROM billing_usage LIMIT 1")).first() is not None:
        raise RuntimeError("billing usage is recorded: it cannot be dropped")
    for table in (
        "billing_vat_rates",
        "billing_prices",
        "billing_runs",
        "billing_samplers",
        "billing_usage",
    ):
        op.drop_table(table)
