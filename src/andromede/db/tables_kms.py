"""Customer-managed KMS key tables: ``kms_keys``, custom key stores, rotations, grants and
``kms_aliases``: metadata only, the key material lives in the root-key provider.

Part of the one ``MetaData`` (``andromede.db.metadata``); ``andromede.db.tables`` re-exports
every table, which the stores and the migrations import from there.
"""

from __future__ import annotations

import sqlalchemy as sa

from andromede.db.metadata import metadata
from andromede.db.types import UtcDateTime, big_id, key_text

__all__ = [
    "kms_aliases",
    "kms_custom_key_stores",
    "kms_grants",
    "kms_key_rotations",
    "kms_keys",
]

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
