"""Step Functions' versions, aliases and redrives (decision 0283): ``stepfunctions_versions``
(each state machine's published versions, their definitions sealed), ``stepfunctions_aliases``
(their aliases and routing), and the executions' ``version_number``, ``alias_name``,
``redrive_count`` and ``redriven``. Nothing to backfill: no execution was started by a version
or an alias, nor redriven.

Revision ID: 0134
Revises: 0133
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import key_text

revision: str = "0134"
down_revision: str | None = "0133"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stepfunctions_versions",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("region", key_text(), nullable=False),
        sa.Column("machine_name", key_text(), nullable=False),
        sa.Column("version_number", sa.Integer(), nullable=False),
        sa.Column("machine_type", key_text(), nullable=False),
        sa.Column("role_arn", sa.Text(), nullable=False),
        sa.Column("revision_id", key_text(), nullable=False),
        sa.Column("definition_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("settings", sa.Text(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "region", "machine_name", "version_number",
            name="pk_stepfunctions_versions",
        ),
    )  # fmt: skip
    op.create_table(
        "stepfunctions_aliases",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("region", key_text(), nullable=False),
        sa.Column("machine_name", key_text(), nullable=False),
        sa.Column("alias_name", key_text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("routing", sa.Text(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("updated", sa.BigInteger(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "region", "machine_name", "alias_name",
            name="pk_stepfunctions_aliases",
        ),
    )  # fmt: skip
    with op.batch_alter_table("stepfunctions_executions") as batch:
        batch.add_column(sa.Column("version_number", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("alias_name", key_text(), nullable=True))
        batch.add_column(
            sa.Column("redrive_count", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("redriven", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("stepfunctions_executions") as batch:
        batch.drop_column("redriven")
        batch.drop_column("redrive_count")
        batch.drop_column("alias_name")
        batch.drop_column("version_number")
    op.drop_table("stepfunctions_aliases")
    op.drop_table("stepfunctions_versions")
