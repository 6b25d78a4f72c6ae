"""Recursive loop detection through Lambda's Event invocations (decision 0328): the caller's
trace header kept with each queued invocation of ``lambda_event_invocations`` (``trace``),
whose lineage the worker hands on. Nothing to backfill: an invocation queued before carries
none, as a caller that sent no header.

Revision ID: 0147
Revises: 0146
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0147"
down_revision: str | None = "0146"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("lambda_event_invocations") as batch:
        batch.add_column(sa.Column("trace", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("lambda_event_invocations") as batch:
        batch.drop_column("trace")
