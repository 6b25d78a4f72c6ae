"""AWS Lambda (decision 0286): ``lambda_functions``, each account's functions,
``lambda_versions``, their versions' configurations (environments sealed), and
``lambda_code``, their sealed code zips, and ``lambda_event_invocations``, the queued Event
invocations. Nothing to backfill: Lambda was not served.

Revision ID: 0135
Revises: 0134
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0135"
down_revision: str | None = "0134"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "lambda_functions",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("name", key_text(), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "name", name="pk_lambda_functions"),
    )
    op.create_table(
        "lambda_versions",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("name", key_text(), nullable=False),
        sa.Column("version", key_text(), nullable=False),
        sa.Column("configuration", sa.Text(), nullable=False),
        sa.Column("sealed_environment", sa.LargeBinary(), nullable=False),
        sa.Column("code_sha256", key_text(), nullable=False),
        sa.Column("code_size", sa.BigInteger(), nullable=False),
        sa.Column("revision_id", key_text(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "name", "version", name="pk_lambda_versions"),
    )
    op.create_table(
        "lambda_code",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("name", key_text(), nullable=False),
        sa.Column("code_sha256", key_text(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "name", "code_sha256", name="pk_lambda_code"),
    )
    op.create_table(
        "lambda_event_invocations",
        sa.Column("id", key_text(), nullable=False),
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("name", key_text(), nullable=False),
        sa.Column("version", key_text(), nullable=False),
        sa.Column("arn", sa.Text(), nullable=False),
        sa.Column("sealed_payload", sa.LargeBinary(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("due", sa.BigInteger(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_owner", key_text(), nullable=False),
        sa.Column("lease_until", sa.BigInteger(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_lambda_event_invocations"),
    )
    op.create_index("ix_lambda_event_invocations_due", "lambda_event_invocations", ["due"])


def downgrade() -> None:
    op.drop_index("ix_lambda_event_invocations_due", table_name="lambda_event_invocations")
    op.drop_table("lambda_event_invocations")
    op.drop_table("lambda_code")
    op.drop_table("lambda_versions")
    op.drop_table("lambda_functions")
