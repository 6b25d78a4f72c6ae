"""Identity tables: tenants, users and their access keys, groups, roles, instance profiles,
managed and inline policies, MFA devices, OIDC and SAML providers, temporary credentials,
operators and their access requests, console logins and sessions.

Part of the one ``MetaData`` (``andromede.db.metadata``); ``andromede.db.tables`` re-exports
every table, which the stores and the migrations import from there.
"""

from __future__ import annotations

import sqlalchemy as sa

from andromede.db.metadata import metadata
from andromede.db.types import UtcDateTime, key_text

__all__ = [
    "access_keys",
    "console_sessions",
    "group_members",
    "iam_access_jobs",
    "iam_credential_reports",
    "iam_groups",
    "iam_oidc_providers",
    "iam_roles",
    "iam_saml_assertions",
    "iam_saml_providers",
    "iam_server_certificates",
    "inline_policies",
    "instance_profile_roles",
    "instance_profiles",
    "login_profiles",
    "managed_policies",
    "mfa_devices",
    "operator_access_keys",
    "operator_access_requests",
    "operators",
    "policy_attachments",
    "policy_versions",
    "session_credentials",
    "tenant_quotas",
    "tenant_regions",
    "tenants",
    "users",
]

tenants = sa.Table(
    "tenants",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False, unique=True),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("tenant_id", sa.Text, sa.ForeignKey("tenants.id"), nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("is_root", sa.Boolean, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("path", sa.Text, nullable=False, server_default="/"),
    sa.Column("name_key", sa.Text, nullable=False),  # lower(name): unique regardless of case
    sa.Column("permissions_boundary", sa.Text, nullable=True),  # a managed policy's ARN
    sa.Column("tags", sa.Text, nullable=True),  # JSON [[key, value], …]; NULL: none
    sa.UniqueConstraint("tenant_id", "name"),
    sa.UniqueConstraint("tenant_id", "name_key"),
)

access_keys = sa.Table(
    "access_keys",
    metadata,
    sa.Column("access_key_id", sa.Text, primary_key=True),
    sa.Column("user_id", sa.Text, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("secret_sealed", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("last_used_at", UtcDateTime, nullable=True),
    sa.Column("last_used_service", sa.Text, nullable=True),
    sa.Column("last_used_region", sa.Text, nullable=True),
    sa.Index(None, "user_id"),
)

tenant_quotas = sa.Table(
    "tenant_quotas",
    metadata,
    sa.Column("tenant_id", sa.Text, sa.ForeignKey("tenants.id"), primary_key=True),
    sa.Column("max_buckets", sa.BigInteger, nullable=True),
    sa.Column("max_bytes", sa.BigInteger, nullable=True),
)

# The regions a tenant's buckets may be created in (migration 0006); no row: every region.
tenant_regions = sa.Table(
    "tenant_regions",
    metadata,
    sa.Column("tenant_id", sa.Text, sa.ForeignKey("tenants.id"), primary_key=True),
    sa.Column("region", sa.Text, primary_key=True),
)

iam_groups = sa.Table(
    "iam_groups",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("tenant_id", sa.Text, sa.ForeignKey("tenants.id"), nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("name_key", sa.Text, nullable=False),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("tenant_id", "name_key"),
)

group_members = sa.Table(
    "group_members",
    metadata,
    sa.Column("group_id", sa.Text, sa.ForeignKey("iam_groups.id"), primary_key=True),
    sa.Column("user_id", sa.Text, sa.ForeignKey("users.id"), primary_key=True),
    sa.Index(None, "user_id"),
)

iam_roles = sa.Table(
    "iam_roles",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("tenant_id", sa.Text, sa.ForeignKey("tenants.id"), nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("name_key", sa.Text, nullable=False),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("assume_role_policy", sa.Text, nullable=False),  # JSON
    sa.Column("max_session_duration", sa.Integer, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("permissions_boundary", sa.Text, nullable=True),  # a managed policy's ARN
    sa.Column("tags", sa.Text, nullable=True),  # as for users
    sa.UniqueConstraint("tenant_id", "name_key"),
)

instance_profiles = sa.Table(
    "instance_profiles",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("tenant_id", sa.Text, sa.ForeignKey("tenants.id"), nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("name_key", sa.Text, nullable=False),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("tags", sa.Text, nullable=True),  # as for users (0074)
    sa.UniqueConstraint("tenant_id", "name_key"),
)

# A profile holds at most one role (AWS's fixed quota): the profile alone is the key, so two
# gateways adding a role at once cannot both succeed.
instance_profile_roles = sa.Table(
    "instance_profile_roles",
    metadata,
    sa.Column("profile_id", sa.Text, sa.ForeignKey("instance_profiles.id"), primary_key=True),
    sa.Column("role_id", sa.Text, sa.ForeignKey("iam_roles.id"), nullable=False),
    sa.Index(None, "role_id"),
)

managed_policies = sa.Table(
    "managed_policies",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("tenant_id", sa.Text, sa.ForeignKey("tenants.id"), nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("name_key", sa.Text, nullable=False),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=True),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("default_version", sa.Text, nullable=False),
    sa.Column("next_version", sa.Integer, nullable=False),  # version ids are never reused
    sa.Column("tags", sa.Text, nullable=True),  # as for users (0074)
    sa.UniqueConstraint("tenant_id", "name_key"),
)

policy_versions = sa.Table(
    "policy_versions",
    metadata,
    sa.Column("policy_id", sa.Text, sa.ForeignKey("managed_policies.id"), primary_key=True),
    sa.Column("version_id", sa.Text, primary_key=True),
    sa.Column("version_number", sa.Integer, nullable=False),
    sa.Column("document", sa.Text, nullable=False),  # JSON
    sa.Column("created_at", UtcDateTime, nullable=False),
)

policy_attachments = sa.Table(
    "policy_attachments",
    metadata,
    sa.Column("entity_type", sa.Text, primary_key=True),
    sa.Column("entity_id", sa.Text, primary_key=True),
    sa.Column("policy_id", sa.Text, sa.ForeignKey("managed_policies.id"), primary_key=True),
    sa.Index(None, "policy_id"),
)

inline_policies = sa.Table(
    "inline_policies",
    metadata,
    sa.Column("entity_type", sa.Text, primary_key=True),
    sa.Column("entity_id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("document", sa.Text, nullable=False),  # JSON
)

mfa_devices = sa.Table(
    "mfa_devices",
    metadata,
    sa.Column("serial", sa.Text, primary_key=True),
    sa.Column("tenant_id", sa.Text, sa.ForeignKey("tenants.id"), nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("seed_sealed", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("user_id", sa.Text, sa.ForeignKey("users.id"), nullable=True),
    sa.Column("enabled_at", UtcDateTime, nullable=True),
    sa.Column("last_step", sa.BigInteger, nullable=True),
    sa.Column("tags", sa.Text, nullable=True),  # as for users (0074)
    sa.Index(None, "tenant_id", "serial"),
    sa.Index(None, "user_id"),
)

# OpenID Connect providers (decision 0087): one per issuer URL per account, the key.
iam_oidc_providers = sa.Table(
    "iam_oidc_providers",
    metadata,
    sa.Column("tenant_id", sa.Text, sa.ForeignKey("tenants.id"), primary_key=True),
    sa.Column("url", sa.Text, primary_key=True),  # the issuer without https://
    sa.Column("client_ids", sa.Text, nullable=False),  # JSON list, in the order added
    sa.Column("thumbprints", sa.Text, nullable=False),  # JSON list of 40-hex SHA-1s
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("tags", sa.Text, nullable=True),  # as for users (0074)
)

# IAM server certificates (decision 0205): one per name per account. The PEM body and chain
# as given; the private key sealed under the account's key ring (never in clear).
iam_server_certificates = sa.Table(
    "iam_server_certificates",
    metadata,
    sa.Column("tenant_id", sa.Text, sa.ForeignKey("tenants.id"), primary_key=True),
    sa.Column("name", key_text(), primary_key=True),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("certificate_id", sa.Text, nullable=False, unique=True),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("chain", sa.Text, nullable=True),
    sa.Column("sealed_private_key", sa.LargeBinary, nullable=False),
    sa.Column("uploaded_at", UtcDateTime, nullable=False),
    sa.Column("expiration", UtcDateTime, nullable=False),
    sa.Column("tags", sa.Text, nullable=True),  # as for users (0074)
)

# SAML 2.0 providers (decision 0095): one per name per account, the key. The metadata is kept
# as given; the entity id and signing certificates read from it beside it.
iam_saml_providers = sa.Table(
    "iam_saml_providers",
    metadata,
    sa.Column("tenant_id", sa.Text, sa.ForeignKey("tenants.id"), primary_key=True),
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("uuid", sa.Text, nullable=False),
    sa.Column("metadata", sa.Text, nullable=False),
    sa.Column("entity_id", sa.Text, nullable=False),
    sa.Column("certificates", sa.Text, nullable=False),  # JSON list of base64 DER
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("valid_until", UtcDateTime, nullable=True),
    sa.Column("tags", sa.Text, nullable=True),  # as for users (0074)
)

# The SAML assertions already used (decision 0095): each is taken once, across every gateway,
# and remembered until it expires. The key is a SHA-256 of the issuer and the assertion's ID.
iam_saml_assertions = sa.Table(
    "iam_saml_assertions",
    metadata,
    sa.Column("tenant_id", sa.Text, primary_key=True),
    sa.Column("assertion_key", sa.Text, primary_key=True),
    sa.Column("expires_at", UtcDateTime, nullable=False),
    sa.Index(None, "expires_at"),
)

session_credentials = sa.Table(
    "session_credentials",
    metadata,
    sa.Column("access_key_id", sa.Text, primary_key=True),
    sa.Column("tenant_id", sa.Text, sa.ForeignKey("tenants.id"), nullable=False),
    sa.Column("secret_sealed", sa.Text, nullable=False),
    sa.Column("token_hash", sa.Text, nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("mfa_present", sa.Boolean, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
    sa.Column("user_id", sa.Text, nullable=True),
    sa.Column("role_id", sa.Text, nullable=True),
    sa.Column("role_session_name", sa.Text, nullable=True),
    # AssumeRole's session policies: JSON {"inline": …, "arns": […]}; NULL: none (0071).
    sa.Column("session_policy", sa.Text, nullable=True),
    # AssumeRole's session tags: JSON {"tags": [[k, v], …], "transitive": […]}; NULL: none.
    sa.Column("session_tags", sa.Text, nullable=True),
    # The session's source identity, fixed for it and its chain (0089); NULL: none.
    sa.Column("source_identity", sa.Text, nullable=True),
    sa.Index(None, "expires_at"),
    sa.Index(None, "tenant_id"),
)

operators = sa.Table(
    "operators",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False, unique=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

operator_access_keys = sa.Table(
    "operator_access_keys",
    metadata,
    sa.Column("access_key_id", sa.Text, primary_key=True),
    sa.Column("operator_id", sa.Text, sa.ForeignKey("operators.id"), nullable=False),
    sa.Column("secret_sealed", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

# An operator's request to touch a tenant's data (migration 0041, decision 0107): pending until
# the tenant approves or refuses it; approved until ``expires_at`` unless revoked. ``buckets``:
# JSON list of names, NULL for every bucket. Expiry is derived from the time, never written.
operator_access_requests = sa.Table(
    "operator_access_requests",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("tenant_id", sa.Text, sa.ForeignKey("tenants.id"), nullable=False),
    sa.Column("operator_id", sa.Text, sa.ForeignKey("operators.id"), nullable=False),
    sa.Column("operator_name", sa.Text, nullable=False),
    sa.Column("buckets", sa.Text, nullable=True),
    sa.Column("mode", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("duration_seconds", sa.Integer, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("decided_at", UtcDateTime, nullable=True),
    sa.Column("decided_by", sa.Text, nullable=True),
    sa.Column("expires_at", UtcDateTime, nullable=True),
    sa.Column("revoked_at", UtcDateTime, nullable=True),
    sa.Column("revoked_by", sa.Text, nullable=True),
    sa.Column("include_kms", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Index(None, "tenant_id", "created_at"),
    sa.Index(None, "operator_id", "created_at"),
    sa.Index(None, "status", "created_at"),
)

login_profiles = sa.Table(
    "login_profiles",
    metadata,
    sa.Column("user_id", sa.Text, sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("failed_attempts", sa.Integer, nullable=False),
    sa.Column("locked_until", UtcDateTime, nullable=True),
)

console_sessions = sa.Table(
    "console_sessions",
    metadata,
    sa.Column("token_hash", sa.Text, primary_key=True),
    # A user's session, or (user_id NULL) a federated role session's, by its access key id.
    sa.Column("user_id", sa.Text, sa.ForeignKey("users.id"), nullable=True),
    sa.Column("tenant_id", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("last_seen_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
    sa.Column("mfa_present", sa.Boolean, nullable=False),
    sa.Column("session_key_id", sa.Text, nullable=True),
    sa.Index(None, "user_id"),
    sa.Index(None, "tenant_id"),
)

# The account's last credential report (decision 0193): one row per account, replaced by each
# GenerateCredentialReport that finds none fresh; the CSV as it was at its generation time.
iam_credential_reports = sa.Table(
    "iam_credential_reports",
    metadata,
    sa.Column("tenant_id", sa.Text, sa.ForeignKey("tenants.id"), primary_key=True),
    sa.Column("generated_at", UtcDateTime, nullable=False),
    sa.Column("content", sa.Text, nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
)

# GenerateServiceLastAccessedDetails' jobs (decision 0193): the last one per entity of an
# account; the summary is computed from the audit trail up to ``created_at`` when it is read.
iam_access_jobs = sa.Table(
    "iam_access_jobs",
    metadata,
    sa.Column("job_id", sa.Text, primary_key=True),
    sa.Column("tenant_id", sa.Text, sa.ForeignKey("tenants.id"), nullable=False),
    sa.Column("arn", sa.Text, nullable=False),
    sa.Column("granularity", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("tenant_id", "arn", name="uq_iam_access_jobs_tenant_id_arn"),
)
