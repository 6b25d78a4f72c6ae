"""Identity: case-insensitive names and paths, groups, roles, managed and inline policies, MFA
devices, temporary credentials, platform operators, quotas and console logins.

Portable: only Alembic operations and SQLAlchemy types; ``batch_alter_table`` recreates the table
on SQLite and issues plain ALTERs on PostgreSQL.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from andromede.db.types import UtcDateTime

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # -- users: a path, and a lower-case name for uniqueness regardless of case --------------
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("path", sa.Text(), nullable=False, server_default="/"))
        batch.add_column(sa.Column("name_key", sa.Text(), nullable=True))
    users = sa.table("users", sa.column("name", sa.Text()), sa.column("name_key", sa.Text()))
    op.execute(users.update().values(name_key=sa.func.lower(users.c.name)))
    with op.batch_alter_table("users") as batch:
        batch.alter_column("name_key", existing_type=sa.Text(), nullable=False)
        batch.create_unique_constraint("uq_users_tenant_id_name_key", ["tenant_id", "name_key"])

    # -- access keys: where and for what they were last used --------------------------------
    with op.batch_alter_table("access_keys") as batch:
        batch.add_column(sa.Column("last_used_service", sa.Text(), nullable=True))
        batch.add_column(sa.Column("last_used_region", sa.Text(), nullable=True))
    op.create_index("ix_access_keys_user_id", "access_keys", ["user_id"])

    op.create_table(
        "tenant_quotas",
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("max_buckets", sa.BigInteger(), nullable=True),
        sa.Column("max_bytes", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_tenant_quotas_tenant_id_tenants"
        ),
        sa.PrimaryKeyConstraint("tenant_id", name="pk_tenant_quotas"),
    )

    # -- groups and roles -------------------------------------------------------------------
    op.create_table(
        "iam_groups",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("name_key", sa.Text(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_iam_groups_tenant_id_tenants"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_iam_groups"),
        sa.UniqueConstraint("tenant_id", "name_key", name="uq_iam_groups_tenant_id_name_key"),
    )
    op.create_table(
        "group_members",
        sa.Column("group_id", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"], ["iam_groups.id"], name="fk_group_members_group_id_iam_groups"
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_group_members_user_id_users"),
        sa.PrimaryKeyConstraint("group_id", "user_id", name="pk_group_members"),
    )
    op.create_index("ix_group_members_user_id", "group_members", ["user_id"])
    op.create_table(
        "iam_roles",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("name_key", sa.Text(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("assume_role_policy", sa.Text(), nullable=False),
        sa.Column("max_session_duration", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_iam_roles_tenant_id_tenants"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_iam_roles"),
        sa.UniqueConstraint("tenant_id", "name_key", name="uq_iam_roles_tenant_id_name_key"),
    )

    # -- policies -----------------------------------------------------------------------------
    op.create_table(
        "managed_policies",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("name_key", sa.Text(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("default_version", sa.Text(), nullable=False),
        sa.Column("next_version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_managed_policies_tenant_id_tenants"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_managed_policies"),
        sa.UniqueConstraint("tenant_id", "name_key", name="uq_managed_policies_tenant_id_name_key"),
    )
    op.create_table(
        "policy_versions",
        sa.Column("policy_id", sa.Text(), nullable=False),
        sa.Column("version_id", sa.Text(), nullable=False),
        sa.Column("version_number", sa.Integer(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["policy_id"],
            ["managed_policies.id"],
            name="fk_policy_versions_policy_id_managed_policies",
        ),
        sa.PrimaryKeyConstraint("policy_id", "version_id", name="pk_policy_versions"),
    )
    op.create_table(
        "policy_attachments",
        sa.Column("entity_type", sa.Text(), nullable=False),
        sa.Column("entity_id", sa.Text(), nullable=False),
        sa.Column("policy_id", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["policy_id"],
            ["managed_policies.id"],
            name="fk_policy_attachments_policy_id_managed_policies",
        ),
        sa.PrimaryKeyConstraint(
            "entity_type", "entity_id", "policy_id", name="pk_policy_attachments"
        ),
    )
    op.create_index("ix_policy_attachments_policy_id", "policy_attachments", ["policy_id"])
    op.create_table(
        "inline_policies",
        sa.Column("entity_type", sa.Text(), nullable=False),
        sa.Column("entity_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("entity_type", "entity_id", "name", name="pk_inline_policies"),
    )

    # -- MFA and temporary credentials ------------------------------------------------------
    op.create_table(
        "mfa_devices",
        sa.Column("serial", sa.Text(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("seed_sealed", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=True),
        sa.Column("enabled_at", UtcDateTime(), nullable=True),
        sa.Column("last_step", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_mfa_devices_tenant_id_tenants"
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_mfa_devices_user_id_users"),
        sa.PrimaryKeyConstraint("serial", name="pk_mfa_devices"),
    )
    op.create_index("ix_mfa_devices_tenant_id_serial", "mfa_devices", ["tenant_id", "serial"])
    op.create_index("ix_mfa_devices_user_id", "mfa_devices", ["user_id"])
    op.create_table(
        "session_credentials",
        sa.Column("access_key_id", sa.Text(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("secret_sealed", sa.Text(), nullable=False),
        sa.Column("token_hash", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("mfa_present", sa.Boolean(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=True),
        sa.Column("role_id", sa.Text(), nullable=True),
        sa.Column("role_session_name", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_session_credentials_tenant_id_tenants"
        ),
        sa.PrimaryKeyConstraint("access_key_id", name="pk_session_credentials"),
    )
    op.create_index("ix_session_credentials_expires_at", "session_credentials", ["expires_at"])
    op.create_index("ix_session_credentials_tenant_id", "session_credentials", ["tenant_id"])

    # -- platform operators -----------------------------------------------------------------
    op.create_table(
        "operators",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_operators"),
        sa.UniqueConstraint("name", name="uq_operators_name"),
    )
    op.create_table(
        "operator_access_keys",
        sa.Column("access_key_id", sa.Text(), nullable=False),
        sa.Column("operator_id", sa.Text(), nullable=False),
        sa.Column("secret_sealed", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["operator_id"], ["operators.id"], name="fk_operator_access_keys_operator_id_operators"
        ),
        sa.PrimaryKeyConstraint("access_key_id", name="pk_operator_access_keys"),
    )

    # -- console login ------------------------------------------------------------------------
    op.create_table(
        "login_profiles",
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("locked_until", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_login_profiles_user_id_users"),
        sa.PrimaryKeyConstraint("user_id", name="pk_login_profiles"),
    )
    op.create_table(
        "console_sessions",
        sa.Column("token_hash", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("last_seen_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("mfa_present", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_console_sessions_user_id_users"
        ),
        sa.PrimaryKeyConstraint("token_hash", name="pk_console_sessions"),
    )
    op.create_index("ix_console_sessions_user_id", "console_sessions", ["user_id"])
    op.create_index("ix_console_sessions_tenant_id", "console_sessions", ["tenant_id"])


def downgrade() -> None:
    for table in (
        "console_sessions",
        "login_profiles",
        "operator_access_keys",
        "operators",
        "session_credentials",
        "mfa_devices",
        "inline_policies",
        "policy_attachments",
        "policy_versions",
        "managed_policies",
        "iam_roles",
        "group_members",
        "iam_groups",
        "tenant_quotas",
    ):
        op.drop_table(table)
    op.drop_index("ix_access_keys_user_id", table_name="access_keys")
    with op.batch_alter_table("access_keys") as batch:
        batch.drop_column("last_used_region")
        batch.drop_column("last_used_service")
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint("uq_users_tenant_id_name_key", type_="unique")
        batch.drop_column("name_key")
        batch.drop_column("path")
