"""Every table of Andromède, in one ``MetaData`` that the migrations must reproduce exactly.

Identity (``tenants``, ``users``, ``access_keys``, groups, roles, instance profiles, policies,
MFA devices, temporary credentials, operators, console logins), audit (``audit_events``, the
events from before the transparency log; ``audit_logs`` with their leaves and nodes) and object
storage (``buckets``, ``objects``, ``object_blobs``, ``multipart_uploads``, ``parts``,
``blob_deletions``) and customer-managed KMS keys
(``kms_keys``, ``kms_aliases``: metadata only, the key material lives in the root-key provider).
``tests/unit/db`` checks that migrating an empty database to head yields this schema with no
difference.

Storage design notes:

- ``objects`` is keyed by ``(bucket, key)``: the primary key is the listing index, and keys are
  compared in UTF-8 byte order (:func:`key_text`).
- An object's segments and representation headers are JSON text beside a ``format_version``, so
  a later release can read rows this one wrote.
- ``object_blobs`` names every blob an object uses (one row per segment): the sweeper asks
  which blobs are still referenced, which JSON text cannot answer through an index. A small
  object's sealed bytes may instead be in its row (``inline_data``): it then has no blob.
- Buckets do not reference ``tenants`` by foreign key: storage stays usable without the identity
  tables being filled (tests, imports), and tenants are closed, never deleted.
"""

from __future__ import annotations

import sqlalchemy as sa

from andromede.db.types import UtcDateTime, big_id, key_text

__all__ = [
    "access_keys",
    "audit_events",
    "audit_key_transition_checkpoints",
    "audit_key_transitions",
    "audit_log_entries",
    "audit_log_nodes",
    "audit_logs",
    "audit_signing_keys",
    "audit_witness_cosignatures",
    "billing_credit_note_sequences",
    "billing_credit_notes",
    "billing_invoice_sequences",
    "billing_invoices",
    "billing_prices",
    "billing_profiles",
    "billing_runs",
    "billing_samplers",
    "billing_usage",
    "billing_vat_rates",
    "blob_deletions",
    "bucket_cors",
    "bucket_documents",
    "bucket_policies",
    "bucket_tags",
    "buckets",
    "compute_default_vpcs",
    "compute_dhcp_options",
    "compute_elastic_addresses",
    "compute_flow_logs",
    "compute_images",
    "compute_import_tasks",
    "compute_instances",
    "compute_internet_gateways",
    "compute_key_pairs",
    "compute_launch_template_versions",
    "compute_launch_templates",
    "compute_metadata_defaults",
    "compute_nat_gateways",
    "compute_network_acls",
    "compute_network_interfaces",
    "compute_prefix_lists",
    "compute_route_tables",
    "compute_security_groups",
    "compute_snapshots",
    "compute_subnets",
    "compute_volumes",
    "compute_vpc_peering_connections",
    "compute_vpcs",
    "console_sessions",
    "group_members",
    "iam_groups",
    "iam_oidc_providers",
    "iam_roles",
    "iam_saml_assertions",
    "iam_saml_providers",
    "inline_policies",
    "instance_profile_roles",
    "instance_profiles",
    "kms_aliases",
    "kms_custom_key_stores",
    "kms_keys",
    "login_profiles",
    "managed_policies",
    "metadata",
    "mfa_devices",
    "multipart_uploads",
    "notification_events",
    "notification_topics",
    "object_blobs",
    "object_version_blobs",
    "object_versions",
    "objects",
    "operator_access_keys",
    "operator_access_requests",
    "operators",
    "parts",
    "policy_attachments",
    "policy_versions",
    "replication_statuses",
    "replication_tasks",
    "session_credentials",
    "tenant_quotas",
    "tenant_regions",
    "tenants",
    "users",
]

# Deterministic constraint names, so migrations can name what they alter or drop.
metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# -- identity -------------------------------------------------------------------------------

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

# -- audit ----------------------------------------------------------------------------------

audit_events = sa.Table(
    "audit_events",
    metadata,
    sa.Column("id", big_id(), primary_key=True, autoincrement=True),
    sa.Column("occurred_at", UtcDateTime, nullable=False),
    sa.Column("request_id", sa.Text, nullable=False),
    sa.Column("tenant_id", sa.Text, nullable=True),
    sa.Column("principal", sa.Text, nullable=True),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("resource", sa.Text, nullable=False),
    sa.Column("outcome", sa.Text, nullable=False),
    sa.Column("details", sa.Text, nullable=False),
    sa.Index(None, "tenant_id", "id"),
    # Append-only log: ids are never reused, even after retention drops the oldest rows.
    sqlite_autoincrement=True,
)

# The transparency log (migration 0040, decision 0105): one Merkle tree per tenant plus the
# platform's. ``audit_events`` above holds the events written before it, unsigned, untouched.

# One row per log: its tree head, and the row every append locks (FOR UPDATE) so that
# gateways appending at once extend the tree one after the other instead of forking it.
audit_logs = sa.Table(
    "audit_logs",
    metadata,
    sa.Column("log_id", sa.Text, primary_key=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("root_hash", sa.LargeBinary, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    # How many of the first entries retention pruned (migration 0041, decision 0107): their
    # text is NULL, their leaf hashes and the nodes stay, so every proof still verifies.
    sa.Column("pruned_size", sa.BigInteger, nullable=False, server_default="0"),
)

# The leaves: each event's canonical entry (audit.model.entry_text) at its index in its log,
# with its leaf hash (the level-0 node: a row of its own per leaf cost a third of a flush).
# ``id`` orders every log's entries together, as they were appended (the platform's listing).
audit_log_entries = sa.Table(
    "audit_log_entries",
    metadata,
    sa.Column("id", big_id(), primary_key=True, autoincrement=True),
    sa.Column("log_id", sa.Text, nullable=False),
    sa.Column("leaf_index", sa.BigInteger, nullable=False),
    sa.Column("entry", sa.Text, nullable=True),  # NULL: pruned by retention (0041)
    sa.Column("leaf_hash", sa.LargeBinary, nullable=False),
    sa.UniqueConstraint("log_id", "leaf_index"),
    sa.Index(None, "log_id", "id"),
    sqlite_autoincrement=True,
)

# The head of every perfect subtree of two leaves or more (level >= 1) of every log, written
# once when it completes and never changed: any tree head or proof is a fold of O(log n) of
# them and of leaf hashes.
audit_log_nodes = sa.Table(
    "audit_log_nodes",
    metadata,
    sa.Column("log_id", sa.Text, primary_key=True),
    sa.Column("level", sa.SmallInteger, primary_key=True),
    sa.Column("node_index", sa.BigInteger, primary_key=True),
    sa.Column("hash", sa.LargeBinary, nullable=False),
)

# The public half of each region's log signing key, registered by the first gateway that
# signs: a gateway holding another private key refuses to start rather than sign checkpoints
# no verifier would accept. The private key is never in the database.
audit_signing_keys = sa.Table(
    "audit_signing_keys",
    metadata,
    sa.Column("key_name", sa.Text, primary_key=True),
    sa.Column("public_key", sa.LargeBinary, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    # Migration 0061 (decision 0140's addendum): a due rotation claimed by one gateway until
    # then, and the current key's seed sealed under secrets.key when it is a key file.
    sa.Column("rotation_claimed_until", UtcDateTime, nullable=True),
    sa.Column("sealed_key", sa.Text, nullable=True),
)

# Each rotation of a region's log signing key (migration 0059, decision 0140): the retired
# key and its successor, and the statement both signed; ``audit_signing_keys`` above holds
# the current key. With the per-log rows below, every key the region ever signed with and
# the tree sizes it signed (from the previous transition's size to its own) stay known.
audit_key_transitions = sa.Table(
    "audit_key_transitions",
    metadata,
    sa.Column("key_name", sa.Text, primary_key=True),
    sa.Column("generation", sa.Integer, primary_key=True),
    sa.Column("old_public_key", sa.LargeBinary, nullable=False),
    sa.Column("new_public_key", sa.LargeBinary, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("statement", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

# Per log that had entries at a rotation: its size then (the last the old key signed, the
# first the new one signs) and its checkpoint at that size signed by both keys.
audit_key_transition_checkpoints = sa.Table(
    "audit_key_transition_checkpoints",
    metadata,
    sa.Column("key_name", sa.Text, primary_key=True),
    sa.Column("generation", sa.Integer, primary_key=True),
    sa.Column("log_id", sa.Text, primary_key=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("checkpoint", sa.Text, nullable=False),
)

# The latest cosignature of each witness on each log (decision 0122, increment 2): the size
# and root it vouched for and its signature line, replaced only by a larger size.
audit_witness_cosignatures = sa.Table(
    "audit_witness_cosignatures",
    metadata,
    sa.Column("log_id", sa.Text, primary_key=True),
    sa.Column("witness", sa.Text, primary_key=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("root_hash", sa.LargeBinary, nullable=False),
    sa.Column("cosignature", sa.Text, nullable=False),
    sa.Column("cosigned_at", UtcDateTime, nullable=False),
)

# -- billing (decision 0108) ---------------------------------------------------------------

# Usage per tenant, hour, region and meter, in the meter's stored unit; only ever added to
# (INSERT … ON CONFLICT DO UPDATE quantity = quantity + excluded), so gateways add up.
billing_usage = sa.Table(
    "billing_usage",
    metadata,
    sa.Column("tenant_id", sa.Text, primary_key=True),
    sa.Column("hour", UtcDateTime, primary_key=True),
    sa.Column("region", sa.Text, primary_key=True),
    sa.Column("meter", sa.Text, primary_key=True),
    sa.Column("quantity", sa.BigInteger, nullable=False),
)
# Each sampler's watermark: the interval before it has been billed.
billing_samplers = sa.Table(
    "billing_samplers",
    metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("sampled_at", UtcDateTime, nullable=False),
)
# Instances running now, billed up to billed_until.
billing_runs = sa.Table(
    "billing_runs",
    metadata,
    sa.Column("resource_id", sa.Text, primary_key=True),
    sa.Column("tenant_id", sa.Text, nullable=False),
    sa.Column("region", sa.Text, nullable=False),
    sa.Column("meter", sa.Text, nullable=False),
    sa.Column("started_at", UtcDateTime, nullable=False),
    sa.Column("billed_until", UtcDateTime, nullable=False),
)
# Prices and rates as decimal text: SQLite has no exact decimal type, and money is never float.
billing_prices = sa.Table(
    "billing_prices",
    metadata,
    sa.Column("region", sa.Text, primary_key=True),
    sa.Column("meter", sa.Text, primary_key=True),
    sa.Column("unit_price", sa.Text, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)
billing_vat_rates = sa.Table(
    "billing_vat_rates",
    metadata,
    sa.Column("region", sa.Text, primary_key=True),
    sa.Column("rate", sa.Text, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

# Invoices (decision 0123): the document as issued, never changed, one per tenant and month;
# numbered from one gapless sequence per calendar year, whose last number the sequence row
# holds (locked by the transaction that issues the next).
billing_invoices = sa.Table(
    "billing_invoices",
    metadata,
    sa.Column("number", sa.Text, primary_key=True),
    sa.Column("tenant_id", sa.Text, nullable=False),
    sa.Column("period", sa.Text, nullable=False),
    sa.Column("issued_at", UtcDateTime, nullable=False),
    sa.Column("document", sa.Text, nullable=False),
    sa.UniqueConstraint("tenant_id", "period"),
)
billing_invoice_sequences = sa.Table(
    "billing_invoice_sequences",
    metadata,
    sa.Column("year", sa.Integer, primary_key=True),
    sa.Column("last_number", sa.BigInteger, nullable=False),
)
# Billing profiles and credit notes (migration 0051, decision 0126): a tenant's profile as
# JSON, the credit notes of each invoice, kept as issued, and their own gapless sequence.
billing_profiles = sa.Table(
    "billing_profiles",
    metadata,
    sa.Column("tenant_id", sa.Text, primary_key=True),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("document", sa.Text, nullable=False),
)
billing_credit_notes = sa.Table(
    "billing_credit_notes",
    metadata,
    sa.Column("number", sa.Text, primary_key=True),
    sa.Column("invoice_number", sa.Text, nullable=False),
    sa.Column("tenant_id", sa.Text, nullable=False),
    sa.Column("issued_at", UtcDateTime, nullable=False),
    sa.Column("document", sa.Text, nullable=False),
    sa.Index(None, "invoice_number"),
    sa.Index(None, "tenant_id"),
)
billing_credit_note_sequences = sa.Table(
    "billing_credit_note_sequences",
    metadata,
    sa.Column("year", sa.Integer, primary_key=True),
    sa.Column("last_number", sa.BigInteger, nullable=False),
)

# -- object storage -------------------------------------------------------------------------

buckets = sa.Table(
    "buckets",
    metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("tenant_id", sa.Text, nullable=False),
    sa.Column("owner_id", sa.Text, nullable=False),
    sa.Column("region", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    # Access configuration (migration 0002): read with the bucket on every request.
    # NULL: no ownership controls (DeleteBucketOwnershipControls), which behaves as ObjectWriter.
    sa.Column("object_ownership", sa.Text, nullable=True, server_default="BucketOwnerEnforced"),
    sa.Column("public_access_block", sa.Text, nullable=True),
    sa.Column("acl", sa.Text, nullable=True),  # JSON; NULL: the owner's private ACL
    # Default encryption (migration 0004), JSON; NULL: SSE-S3, the default of every bucket.
    sa.Column("encryption", sa.Text, nullable=True),
    # SHA-256 (hex) of the bucket policy, whose text is in bucket_policies (migration 0017,
    # which added it after the columns above); NULL: no policy. Every request reads this row:
    # a policy of up to 20 KiB in it had SQLite walk and PostgreSQL de-TOAST its text on every
    # read; its digest says whether the text a gateway holds is still the one stored.
    sa.Column("policy_digest", sa.Text, nullable=True),
    sa.Index(None, "tenant_id", "name"),
    # Versioning (migration 0038, decision 0097): NULL never versioned, else "Enabled" or
    # "Suspended". In the row every request reads, so a PUT or DELETE knows which path to take
    # without another query; a NULL at the end of the row is all a bucket never versioned pays.
    sa.Column("versioning", sa.Text, nullable=True),
    # Object Lock (migration 0039, decision 0102), JSON; NULL: none. In the row every request
    # reads, as versioning is: a PUT needs the default retention without another query.
    sa.Column("object_lock", sa.Text, nullable=True),
    # Who pays for requests (migration 0055, decision 0133): NULL the bucket owner, the S3
    # default; "Requester" another account that asks for it. In the row every request reads.
    sa.Column("request_payer", sa.Text, nullable=True),
)

# A bucket's policy text (migration 0017), read only when a gateway does not hold the text of
# the bucket row's policy_digest.
bucket_policies = sa.Table(
    "bucket_policies",
    metadata,
    sa.Column("bucket", sa.Text, sa.ForeignKey("buckets.name"), primary_key=True),
    sa.Column("policy", sa.Text, nullable=False),
)

# A bucket's tag set (migration 0024), out of the bucket row every request reads: only
# Get/PutBucketTagging read or write it. JSON: [[key, value], …] in the order given.
bucket_tags = sa.Table(
    "bucket_tags",
    metadata,
    sa.Column("bucket", sa.Text, sa.ForeignKey("buckets.name"), primary_key=True),
    sa.Column("tags", sa.Text, nullable=False),
)

# A bucket's CORS rules (migration 0030), beside its row as its tags are: read only for
# requests that carry an Origin, and by the CORS calls. JSON, storage/cors.py's form.
bucket_cors = sa.Table(
    "bucket_cors",
    metadata,
    sa.Column("bucket", sa.Text, sa.ForeignKey("buckets.name"), primary_key=True),
    sa.Column("rules", sa.Text, nullable=False),
)

# A bucket's configuration documents, one per kind (migration 0031): its static website's now
# (storage/website.py), and the lifecycle, logging, notification and replication
# configurations to come. Each is read whole, by its calls and the requests it shapes; none is
# read on the common request path.
bucket_documents = sa.Table(
    "bucket_documents",
    metadata,
    sa.Column("bucket", sa.Text, sa.ForeignKey("buckets.name"), primary_key=True),
    sa.Column("kind", sa.Text, primary_key=True),
    sa.Column("document", sa.Text, nullable=False),
)

objects = sa.Table(
    "objects",
    metadata,
    sa.Column("bucket", sa.Text, sa.ForeignKey("buckets.name"), primary_key=True),
    sa.Column("key", key_text(), primary_key=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("etag", sa.Text, nullable=False),
    sa.Column("last_modified", UtcDateTime, nullable=False),
    sa.Column("owner_id", sa.Text, nullable=False),
    sa.Column("checksum_algorithm", sa.Text, nullable=True),
    sa.Column("checksum_type", sa.Text, nullable=True),
    sa.Column("checksum_value", sa.Text, nullable=True),
    sa.Column("headers", sa.Text, nullable=False),  # JSON
    sa.Column("segments", sa.Text, nullable=False),  # JSON
    sa.Column("format_version", sa.Integer, nullable=False),
    sa.Column("acl", sa.Text, nullable=True),  # JSON; NULL: the owner's private ACL
    # A small object's sealed bytes (migration 0016), instead of a blob; NULL: in blobs. After
    # every column a listing reads, so that a listing never reads its overflow pages.
    sa.Column("inline_data", sa.LargeBinary, nullable=True),
    # The current version's id in a versioned bucket (migration 0038, decision 0097); NULL:
    # S3's "null" version, every object of a bucket never versioned. Added last, as SQLite and
    # PostgreSQL add columns: only a GET reads it (with the inline bytes it reads anyway) and
    # ListObjectVersions; ListObjects does not.
    sa.Column("version_id", sa.Text, nullable=True),
    # The version's Object Lock retention and legal hold, JSON (migration 0039, decision
    # 0102); NULL: neither. Last, as it was added.
    sa.Column("object_lock", sa.Text, nullable=True),
)

# The versions of a versioned bucket's keys that are not a current object (migration 0038,
# decision 0097): noncurrent versions, and every delete marker (a current one too: a key whose
# newest version is a marker has no row in ``objects``, so ListObjects is as it was). Written
# only in versioned buckets. ``version_id`` orders a key's versions newest first; the null
# version has one too (its place), with ``is_null`` saying it is shown as "null".
object_versions = sa.Table(
    "object_versions",
    metadata,
    sa.Column("bucket", sa.Text, sa.ForeignKey("buckets.name"), primary_key=True),
    sa.Column("key", key_text(), primary_key=True),
    sa.Column("version_id", sa.Text, primary_key=True),
    sa.Column("is_null", sa.Boolean, nullable=False),
    sa.Column("delete_marker", sa.Boolean, nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("etag", sa.Text, nullable=False),
    sa.Column("last_modified", UtcDateTime, nullable=False),
    sa.Column("owner_id", sa.Text, nullable=False),
    sa.Column("checksum_algorithm", sa.Text, nullable=True),
    sa.Column("checksum_type", sa.Text, nullable=True),
    sa.Column("checksum_value", sa.Text, nullable=True),
    sa.Column("headers", sa.Text, nullable=True),  # JSON, as in objects; NULL: a marker
    sa.Column("segments", sa.Text, nullable=True),  # JSON, as in objects; NULL: a marker
    sa.Column("format_version", sa.Integer, nullable=False),
    sa.Column("acl", sa.Text, nullable=True),
    sa.Column("inline_data", sa.LargeBinary, nullable=True),
    sa.Column("object_lock", sa.Text, nullable=True),  # as in objects (migration 0039)
)
# Ciphertext does not compress: moved out of line past ~2 KB as usual, without PostgreSQL
# trying to compress it first on every write (migrations 0016 and 0045). Here too, for a
# database created from these models rather than through the migrations (db.migrate, decision
# 0115).
for _table in (objects, object_versions):
    sa.event.listen(
        _table,
        "after_create",
        sa.DDL(  # type: ignore[no-untyped-call]
            f"ALTER TABLE {_table.name} ALTER COLUMN inline_data SET STORAGE EXTERNAL"
        ).execute_if(dialect="postgresql"),
    )

# The blobs of noncurrent versions (migration 0038), apart from ``object_blobs`` (those of
# current objects): the unversioned paths drop a key's object_blobs rows when they replace its
# object, and must never drop a noncurrent version's. The sweeper deletes no blob named here.
object_version_blobs = sa.Table(
    "object_version_blobs",
    metadata,
    sa.Column("blob_id", sa.Text, primary_key=True),
    sa.Column("bucket", sa.Text, nullable=False),
    sa.Column("key", key_text(), nullable=False),
    sa.Column("version_id", sa.Text, nullable=False),
)

object_blobs = sa.Table(
    "object_blobs",
    metadata,
    sa.Column("blob_id", sa.Text, primary_key=True),
    sa.Column("bucket", sa.Text, nullable=False),
    sa.Column("key", key_text(), nullable=False),
    sa.Index(None, "bucket", "key"),
)

multipart_uploads = sa.Table(
    "multipart_uploads",
    metadata,
    sa.Column("upload_id", sa.Text, primary_key=True),
    sa.Column("bucket", sa.Text, sa.ForeignKey("buckets.name"), nullable=False),
    sa.Column("key", key_text(), nullable=False),
    sa.Column("initiated", UtcDateTime, nullable=False),
    sa.Column("owner_id", sa.Text, nullable=False),
    sa.Column("headers", sa.Text, nullable=False),  # JSON
    sa.Column("checksum_algorithm", sa.Text, nullable=True),
    sa.Column("checksum_type", sa.Text, nullable=True),
    sa.Column("format_version", sa.Integer, nullable=False),
    sa.Column("acl", sa.Text, nullable=True),  # the completed object's ACL
    sa.Index(None, "bucket", "key", "initiated", "upload_id"),
)

parts = sa.Table(
    "parts",
    metadata,
    sa.Column(
        "upload_id",
        sa.Text,
        sa.ForeignKey("multipart_uploads.upload_id"),
        primary_key=True,
    ),
    sa.Column("part_number", sa.Integer, primary_key=True),
    sa.Column("blob_id", sa.Text, nullable=False, index=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("etag", sa.Text, nullable=False),
    sa.Column("last_modified", UtcDateTime, nullable=False),
    sa.Column("checksum_algorithm", sa.Text, nullable=True),
    sa.Column("checksum_type", sa.Text, nullable=True),
    sa.Column("checksum_value", sa.Text, nullable=True),
    # The part's wrapped data key (migration 0004), JSON; NULL: a plaintext part (legacy).
    sa.Column("key", sa.Text, nullable=True),
    # The region whose store holds the blob (migration 0006); NULL: the default region.
    sa.Column("region", sa.Text, nullable=True),
)

blob_deletions = sa.Table(
    "blob_deletions",
    metadata,
    sa.Column("id", big_id(), primary_key=True, autoincrement=True),
    sa.Column("blob_id", sa.Text, nullable=False, index=True),
    sa.Column("not_before", UtcDateTime, nullable=False, index=True),
    # The region whose store holds the blob (migration 0006); NULL: the default region.
    sa.Column("region", sa.Text, nullable=True),
)

# -- bucket replication (migration 0043, decision 0112) -----------------------------------------
# One row per object version (or delete marker) waiting to be copied to a destination bucket:
# a durable work queue that gateways claim with FOR UPDATE SKIP LOCKED, each only the tasks
# whose two regions it serves, for a lease, retrying after a backoff (``not_before``).
replication_tasks = sa.Table(
    "replication_tasks",
    metadata,
    sa.Column("id", big_id(), primary_key=True, autoincrement=True),
    sa.Column("source_bucket", sa.Text, nullable=False),
    sa.Column("key", key_text(), nullable=False),
    sa.Column("version_id", sa.Text, nullable=False),
    sa.Column("destination_bucket", sa.Text, nullable=False),
    sa.Column("rule_id", sa.Text, nullable=False),
    sa.Column("source_region", sa.Text, nullable=False),
    sa.Column("destination_region", sa.Text, nullable=False),
    sa.Column("delete_marker", sa.Boolean, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("not_before", UtcDateTime, nullable=False, index=True),
    sa.Column("lease_until", UtcDateTime, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("last_error", sa.Text, nullable=True),
)
# x-amz-replication-status of a version: PENDING, COMPLETED or FAILED on a source, REPLICA on
# a destination. Apart from ``objects`` and ``object_versions`` so that a bucket that never
# replicates pays nothing for it; read only for buckets with a replication configuration or
# a replica written into them.
replication_statuses = sa.Table(
    "replication_statuses",
    metadata,
    sa.Column("bucket", sa.Text, primary_key=True),
    sa.Column("key", key_text(), primary_key=True),
    sa.Column("version_id", sa.Text, primary_key=True),
    sa.Column("status", sa.Text, nullable=False),
)

# -- bucket event notifications (decision 0132) -------------------------------------------------
# A tenant's SNS-style topics: where a bucket's events are pushed. The document is the topic's
# attributes as JSON with a format version (push-endpoint, OpaqueData, persistent…); no secret
# is in it, since a push endpoint carrying credentials is refused.
notification_topics = sa.Table(
    "notification_topics",
    metadata,
    sa.Column("tenant_id", sa.Text, primary_key=True),
    sa.Column("name", key_text(), primary_key=True),
    sa.Column("region", sa.Text, nullable=False),
    sa.Column("document", sa.Text, nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)
# Events waiting to be pushed, written by the transaction that commits the version or the
# delete they tell of (so no committed write loses its event), claimed FOR UPDATE SKIP LOCKED.
# ``message`` is the S3 event JSON ready to send; the topic is looked up at delivery.
notification_events = sa.Table(
    "notification_events",
    metadata,
    sa.Column("id", big_id(), primary_key=True, autoincrement=True),
    sa.Column("tenant_id", sa.Text, nullable=False, index=True),
    sa.Column("topic_arn", sa.Text, nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("not_before", UtcDateTime, nullable=False, index=True),
    sa.Column("lease_until", UtcDateTime, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("last_error", sa.Text, nullable=True),
)

# -- customer-managed KMS keys ------------------------------------------------------------------
# Metadata only: a key's material is the root-key provider's key ring named by ``key_id``, so a
# restored copy of these rows cannot bring a destroyed key back. Ids and alias names sort in
# byte order (key_text) so listings page the same way on SQLite and PostgreSQL.

kms_keys = sa.Table(
    "kms_keys",
    metadata,
    sa.Column("key_id", key_text(), primary_key=True),
    sa.Column("tenant_id", sa.Text, nullable=False),
    sa.Column("region", sa.Text, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("key_usage", sa.Text, nullable=False),
    sa.Column("key_spec", sa.Text, nullable=False),
    sa.Column("origin", sa.Text, nullable=False),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("deletion_date", UtcDateTime, nullable=True),
    sa.Column("rotation_enabled", sa.Boolean, nullable=False),
    sa.Column("rotation_period_days", sa.Integer, nullable=False),
    sa.Column("next_rotation_date", UtcDateTime, nullable=True),
    sa.Column("policy", sa.Text, nullable=False),
    sa.Column("tags", sa.Text, nullable=False),  # JSON list of [key, value]
    sa.Column("format_version", sa.Integer, nullable=False),
    sa.Column("revision", sa.BigInteger, nullable=False),  # optimistic concurrency
    # CUSTOMER, or AWS for a service's default key (alias/aws/s3), which tenants cannot manage
    # (a later migration's column: the columns are in the order the migrations made them).
    sa.Column("key_manager", sa.Text, nullable=False, server_default="CUSTOMER"),
    # Signing keys (migration 0020): the public key, and the private key sealed under the key's
    # own ring (a KMS ciphertext blob), both base64; NULL for symmetric keys.
    sa.Column("public_key", sa.Text, nullable=True),
    sa.Column("private_key", sa.Text, nullable=True),
    # Imported key material (origin EXTERNAL, migration 0021): whether the ring holds it now,
    # the id of the material (a keyed digest: only the same material may be imported again),
    # and the current import's expiry. Keys of origin AWS_KMS always have material.
    sa.Column("has_material", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("key_material_id", sa.Text, nullable=True),
    sa.Column("expiration_model", sa.Text, nullable=True),
    sa.Column("valid_to", UtcDateTime, nullable=True),
    # A symmetric EXTERNAL key's materials by ring version, JSON (migration 0032; NULL for a
    # key imported before: its one material is the columns above), and the first expiry of
    # any material its ring holds, which upkeep looks for.
    sa.Column("materials", sa.Text, nullable=True),
    sa.Column("material_expiry", UtcDateTime, nullable=True),
    # A key of an external key store (origin EXTERNAL_KEY_STORE, migration 0035): the store,
    # and the external key's id at its proxy; one KMS key per external key per store.
    sa.Column("custom_key_store_id", sa.Text, nullable=True),
    sa.Column("xks_key_id", sa.Text, nullable=True),
    # A multi-Region key's role in its region, PRIMARY or REPLICA, and a primary's waiting
    # period while PendingReplicaDeletion (migration 0057, decision 0138). Such a key has one
    # row per region: its key_id column is the key id and the region (``mrk-…@<region>``).
    sa.Column("multi_region_type", sa.Text, nullable=True),
    sa.Column("pending_window_days", sa.Integer, nullable=True),
    sa.Index(None, "tenant_id", "key_id"),
    sa.Index(None, "deletion_date"),
    sa.Index(None, "next_rotation_date"),
    sa.Index(None, "valid_to"),
    sa.Index(None, "material_expiry"),
    sa.Index(None, "custom_key_store_id", "xks_key_id", unique=True),
)

# External key stores (CreateCustomKeyStore, migration 0035, decision 0090): a tenant's XKS
# proxy and the credential KMS signs its requests with, the secret sealed (never in clear).
# Names, and proxy URIs (endpoint + path), are unique in an account.
kms_custom_key_stores = sa.Table(
    "kms_custom_key_stores",
    metadata,
    sa.Column("store_id", key_text(), primary_key=True),
    sa.Column("tenant_id", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("store_type", sa.Text, nullable=False),
    sa.Column("connectivity", sa.Text, nullable=False),
    sa.Column("endpoint", sa.Text, nullable=False),
    sa.Column("uri_path", sa.Text, nullable=False),
    sa.Column("access_key_id", sa.Text, nullable=False),
    sa.Column("sealed_secret", sa.Text, nullable=False),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("error_code", sa.Text, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
    sa.Column("revision", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("tenant_id", "name"),
    sa.UniqueConstraint("tenant_id", "endpoint", "uri_path"),
    sa.Index(None, "tenant_id", "store_id"),
)

# Completed rotations of a key's material (ListKeyRotations, migration 0018), oldest first;
# the on-demand ones also count against a per-key quota. Removed with their key.
kms_key_rotations = sa.Table(
    "kms_key_rotations",
    metadata,
    sa.Column("id", big_id(), primary_key=True, autoincrement=True),
    sa.Column("key_id", key_text(), sa.ForeignKey("kms_keys.key_id"), nullable=False),
    sa.Column("rotated_at", UtcDateTime, nullable=False),
    sa.Column("rotation_type", sa.Text, nullable=False),  # AUTOMATIC | ON_DEMAND
    sa.Index(None, "key_id", "id"),
)

# Grants (CreateGrant, migration 0019): a principal's permission to use one key for some
# operations, beside the key policy; removed with their key.
kms_grants = sa.Table(
    "kms_grants",
    metadata,
    sa.Column("grant_id", key_text(), primary_key=True),
    sa.Column("key_id", key_text(), sa.ForeignKey("kms_keys.key_id"), nullable=False),
    sa.Column("key_tenant", sa.Text, nullable=False),
    sa.Column("grantee", sa.Text, nullable=False),
    sa.Column("retiring", sa.Text, nullable=True),
    sa.Column("operations", sa.Text, nullable=False),  # JSON list of operation names
    sa.Column("constraints", sa.Text, nullable=False),  # JSON {"subset"|"equals": [[k, v]…]}
    sa.Column("issuer", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index(None, "key_id", "grantee"),
    sa.Index(None, "retiring", "grant_id"),
)

# An alias is a regional resource (migration 0060, decision 0138): one name is one alias in
# each region of an account, and points at a key of its own region.
kms_aliases = sa.Table(
    "kms_aliases",
    metadata,
    sa.Column("tenant_id", sa.Text, nullable=False),
    sa.Column("name", key_text(), nullable=False),
    sa.Column("key_id", key_text(), sa.ForeignKey("kms_keys.key_id"), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("region", sa.Text, nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "region", "name"),
    sa.Index(None, "key_id"),
)

# -- compute ------------------------------------------------------------------------------------
# One table per kind of EC2 resource, all of one shape: the id, the owning tenant (NULL for the
# operator's public images), the record as JSON beside its format version, and a revision for
# optimistic concurrency. The service reads a tenant's records and filters them itself (EC2's
# filters are many and small in number of rows per tenant); nothing joins across these tables.


def _compute_table(
    name: str, *looked_up: sa.Column[str] | sa.Column[int] | sa.Index | sa.UniqueConstraint
) -> sa.Table:
    return sa.Table(
        name,
        metadata,
        sa.Column("id", key_text(), primary_key=True),
        sa.Column("tenant_id", sa.Text, nullable=True),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("format_version", sa.Integer, nullable=False),
        sa.Column("revision", sa.BigInteger, nullable=False),
        sa.Index(None, "tenant_id", "id"),
        *looked_up,
    )


# Two lookups are not a tenant's listing: the metadata service finds the instance behind a
# guest's connection by its host and public address, and then its key pair by name, at every
# request of every guest. Those fields are copied out of the document into indexed columns
# (written with it, so never out of step with it).
compute_instances = _compute_table(
    "compute_instances",
    sa.Column("host", key_text(), nullable=True),
    sa.Column("public_ip", key_text(), nullable=True),
    sa.Index(None, "public_ip", "host"),
)
compute_volumes = _compute_table("compute_volumes")
compute_snapshots = _compute_table("compute_snapshots")
compute_images = _compute_table("compute_images")
compute_key_pairs = _compute_table(
    "compute_key_pairs",
    sa.Column("name", key_text(), nullable=True),
    sa.Index(None, "tenant_id", "name"),
)
# Launch templates (decision 0092): a name unique in its tenant, which the database keeps so that
# two gateways creating one name at once cannot both succeed; their versions found by template.
compute_launch_templates = _compute_table(
    "compute_launch_templates",
    sa.Column("name", key_text(), nullable=False),
    sa.UniqueConstraint("tenant_id", "name"),
)
compute_launch_template_versions = _compute_table(
    "compute_launch_template_versions",
    sa.Column("template_id", key_text(), nullable=False),
    sa.Column("number", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("template_id", "number"),
)
compute_security_groups = _compute_table("compute_security_groups")
compute_import_tasks = _compute_table("compute_import_tasks")
compute_vpcs = _compute_table("compute_vpcs")
compute_internet_gateways = _compute_table("compute_internet_gateways")
compute_route_tables = _compute_table("compute_route_tables")
# Network ACLs (decision 0128): JSON documents like the route tables.
compute_network_acls = _compute_table("compute_network_acls")
# NAT gateways (decision 0129): JSON documents like the route tables.
compute_nat_gateways = _compute_table("compute_nat_gateways")
# VPC peering connections (decision 0139): JSON documents, the row's tenant the requester's
# (the accepter's is in the document; both sides' lists read every row, as the reconciler does).
compute_vpc_peering_connections = _compute_table("compute_vpc_peering_connections")
# Which VPC is each tenant's default, or none since it deleted it (decision 0137): one row per
# tenant, its id the tenant's.
compute_default_vpcs = _compute_table("compute_default_vpcs")
# DHCP options sets (decision 0143): JSON documents; a VPC names its set in its own document.
compute_dhcp_options = _compute_table("compute_dhcp_options")
# Customer-managed prefix lists (decision 0149): JSON documents, each with its kept versions.
compute_prefix_lists = _compute_table("compute_prefix_lists")
# Each tenant's instance metadata defaults (decision 0145): one row per tenant, its id the
# tenant's.
compute_metadata_defaults = _compute_table("compute_metadata_defaults")
# Elastic IPs (decision 0125): an address of the region's pool is held by one tenant at a time,
# which the database keeps, so two gateways allocating at once never hand out one address twice.
compute_elastic_addresses = _compute_table(
    "compute_elastic_addresses",
    sa.Column("public_ip", key_text(), nullable=False),
    sa.UniqueConstraint("public_ip"),
)
# Subnets carry their VXLAN id as a column the database keeps unique: two subnets created
# at once by two gateways never share an overlay.
compute_subnets = sa.Table(
    "compute_subnets",
    metadata,
    sa.Column("id", key_text(), primary_key=True),
    sa.Column("tenant_id", sa.Text, nullable=True),
    sa.Column("document", sa.Text, nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
    sa.Column("revision", sa.BigInteger, nullable=False),
    sa.Column("vni", sa.Integer, nullable=False),
    sa.Index(None, "tenant_id", "id"),
    sa.UniqueConstraint("vni"),
)
# Network interfaces also carry what must be unique across every gateway as columns the
# database checks: a private address within its subnet, and a MAC address.
compute_network_interfaces = sa.Table(
    "compute_network_interfaces",
    metadata,
    sa.Column("id", key_text(), primary_key=True),
    sa.Column("tenant_id", sa.Text, nullable=True),
    sa.Column("document", sa.Text, nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
    sa.Column("revision", sa.BigInteger, nullable=False),
    sa.Column("subnet_id", key_text(), nullable=False),
    sa.Column("private_ip", key_text(), nullable=False),
    sa.Column("mac", key_text(), nullable=False),
    sa.Index(None, "tenant_id", "id"),
    sa.UniqueConstraint("subnet_id", "private_ip"),
    sa.UniqueConstraint("mac"),
)

# VPC flow logs (decision 0153): JSON documents, one per flow log.
compute_flow_logs = _compute_table("compute_flow_logs")
