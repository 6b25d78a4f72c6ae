"""IAM instance profiles: the role an EC2 instance acts as, and which role each profile holds
(at most one, by the primary key).

Revision ID: 0009
Revises: 0005
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import UtcDateTime

revision: str = "0009"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "instance_profiles",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("name_key", sa.Text(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_instance_profiles_tenant_id_tenants"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_instance_profiles"),
        sa.UniqueConstraint(
            "tenant_id", "name_key", name="uq_instance_profiles_tenant_id_name_key"
        ),
    )
    op.create_table(
        "instance_profile_roles",
        sa.Column("profile_id", sa.Text(), nullable=False),
        sa.Column("role_id", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["profile_id"],
            ["instance_profiles.id"],
            name="fk_instance_profile_roles_profile_id_instance_profiles",
        ),
        sa.ForeignKeyConstraint(
            ["role_id"], ["iam_roles.id"], name="fk_instance_profile_roles_role_id_iam_roles"
        ),
        sa.PrimaryKeyConstraint("profile_id", name="pk_instance_profile_roles"),
    )
    op.create_index("ix_instance_profile_roles_role_id", "instance_profile_roles", ["role_id"])


def downgrade() -> None:
    op.drop_index("ix_instance_profile_roles_role_id", table_name="instance_profile_roles")
    op.drop_table("instance_profile_roles")
    op.drop_table("instance_profiles")
