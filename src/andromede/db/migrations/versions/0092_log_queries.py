"""CloudWatch Logs Insights queries (decision 0186, session-48 addendum): ``log_queries``,
each account's queries with their status and, once finished, their results, so that any
gateway answers GetQueryResults; ``log_query_definitions``, the saved queries. Nothing to
backfill: neither was served before.

Revision ID: 0092
Revises: 0091
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0092"
down_revision: str | None = "0091"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "log_queries",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("query_id", key_text(), nullable=False),
        sa.Column("group_names", sa.Text(), nullable=False),
        sa.Column("query_string", sa.Text(), nullable=False),
        sa.Column("start_time", sa.BigInteger(), nullable=False),
        sa.Column("end_time", sa.BigInteger(), nullable=False),
        sa.Column("query_limit", sa.Integer(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("status", key_text(), nullable=False),
        sa.Column("results", sa.Text(), nullable=True),
        sa.Column("statistics", sa.Text(), nullable=True),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "query_id", name="pk_log_queries"),
    )
    op.create_index("ix_log_queries_created", "log_queries", ["tenant_id", "created"])

    op.create_table(
        "log_query_definitions",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("definition_id", key_text(), nullable=False),
        sa.Column("name", key_text(), nullable=False),
        sa.Column("query_string", sa.Text(), nullable=False),
        sa.Column("group_names", sa.Text(), nullable=False),
        sa.Column("modified", sa.BigInteger(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "definition_id", name="pk_log_query_definitions"),
    )
    op.create_index("ix_log_query_definitions_name", "log_query_definitions", ["tenant_id", "name"])


def downgrade() -> None:
    op.drop_index("ix_log_query_definitions_name", table_name="log_query_definitions")
    op.drop_table("log_query_definitions")
    op.drop_index("ix_log_queries_created", table_name="log_queries")
    op.drop_table("log_queries")
