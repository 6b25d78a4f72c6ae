"""CloudWatch Logs account-level subscription filter and field index policies (decision 0232):
a policy's selection criteria (``LogGroupName NOT IN [...]``, ``LogGroupNamePrefix IN
[...]``), kept as it was put, one nullable column of ``log_account_policies`` (the data
protection policies kept before have none, as AWS's); a group's own field index policy and
when it was put, two nullable columns of ``log_groups``.

Revision ID: 0109
Revises: 0108
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0109"
down_revision: str | None = "0108"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("log_account_policies", sa.Column("selection_criteria", sa.Text(), nullable=True))
    op.add_column("log_groups", sa.Column("index_policy", sa.Text(), nullable=True))
    op.add_column("log_groups", sa.Column("index_policy_updated", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    # Plain ALTER TABLE on both databases (SQLite has it since 3.35), as 0101. The subscription
    # filter and field index account policies go first: without their criteria they would
    # apply to every group, and no release before this one knows their types.
    op.drop_column("log_groups", "index_policy_updated")
    op.drop_column("log_groups", "index_policy")
    op.execute(
        "DELETE FROM log_account_policies"
        " WHERE policy_type IN ('SUBSCRIPTION_FILTER_POLICY', 'FIELD_INDEX_POLICY')"
    )
    op.drop_column("log_account_policies", "selection_criteria")
