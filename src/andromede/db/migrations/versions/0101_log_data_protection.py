"""CloudWatch Logs data protection (decision 0211): a group's policy (two columns of
``log_groups``), the spans masked in each event (``log_events.masks``) and the accounts'
account-level policies (``log_account_policies``). Nothing to backfill: events ingested
before a policy are not masked, as on AWS.

Revision ID: 0101
Revises: 0100
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0101"
down_revision: str | None = "0100"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("log_groups", sa.Column("data_protection", sa.Text(), nullable=True))
    op.add_column(
        "log_groups", sa.Column("data_protection_updated", sa.BigInteger(), nullable=True)
    )
    op.add_column("log_events", sa.Column("masks", sa.Text(), nullable=True))
    op.create_table(
        "log_account_policies",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("policy_type", key_text(), nullable=False),
        sa.Column("policy_name", key_text(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("scope", key_text(), nullable=False),
        sa.Column("updated", sa.BigInteger(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "policy_type", "policy_name", name="pk_log_account_policies"
        ),
    )


def downgrade() -> None:
    op.drop_table("log_account_policies")
    # Plain ALTER TABLE on both databases (SQLite has it since 3.35), as 0038.
    op.drop_column("log_events", "masks")
    op.drop_column("log_groups", "data_protection_updated")
    op.drop_column("log_groups", "data_protection")
