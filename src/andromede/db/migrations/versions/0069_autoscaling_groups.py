"""EC2 Auto Scaling groups and their scaling activities (decision 0156). Nothing is
backfilled: no group existed before.

Revision ID: 0069
Revises: 0068
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import UtcDateTime, key_text

revision: str = "0069"
# 0068 may be another branch's of this session; the lead chains this one after it at merge.
down_revision: str | None = "0068"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "autoscaling_groups",
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("name", key_text(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("format_version", sa.Integer(), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "name", name="pk_autoscaling_groups"),
    )
    op.create_table(
        "autoscaling_activities",
        sa.Column("activity_id", key_text(), nullable=False),
        sa.Column("tenant_id", key_text(), nullable=False),
        sa.Column("group_name", key_text(), nullable=False),
        sa.Column("start_time", UtcDateTime(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("activity_id", name="pk_autoscaling_activities"),
    )
    op.create_index(
        "ix_autoscaling_activities_tenant_id_group_name_start_time",
        "autoscaling_activities",
        ["tenant_id", "group_name", "start_time"],
    )


def downgrade() -> None:
    # A group is a tenant's configuration that keeps instances running: refused while one
    # exists (its owner deletes it first).
    bind = op.get_bind()
    held = bind.execute(sa.text("SELECT COUNT(*) FROM autoscaling_groups")).scalar()
    if held:
        raise RuntimeError("autoscaling_groups holds groups: the downgrade would lose them")
    op.drop_table("autoscaling_activities")
    op.drop_table("autoscaling_groups")
