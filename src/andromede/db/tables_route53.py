"""Amazon Route 53 (decision 0280, migration 0132): ``route53_zones`` (each account's hosted
zones: name, caller reference, and the rest — comment, tags, record sets — as one JSON
``definition`` written whole by compare-and-set on ``version``), ``route53_zone_vpcs`` (the
VPCs each private zone is associated with, found by VPC for the resolvers) and
``route53_changes`` (the changes GetChange answers); ``route53_health_checks`` (decision
0285); ``route53_query_logging_configs`` (decision 0305); ``route53_key_signing_keys`` and
``route53_zone_signing`` (DNSSEC signing, decision 0317, migration 0144);
``route53_traffic_policies`` and ``route53_traffic_policy_instances`` (decision 0330,
migration 0148); ``route53_delegation_sets`` (reusable delegation sets, decision 0346,
migration 0150); ``route53_cidr_collections`` (decision 0353, migration 0151).

Part of the one ``MetaData`` (``andromede.db.metadata``); ``andromede.db.tables`` re-exports
every table.
"""

from __future__ import annotations

import sqlalchemy as sa

from andromede.db.metadata import metadata
from andromede.db.types import key_text

__all__ = [
    "route53_changes",
    "route53_cidr_collections",
    "route53_delegation_sets",
    "route53_health_checks",
    "route53_key_signing_keys",
    "route53_query_logging_configs",
    "route53_traffic_policies",
    "route53_traffic_policy_instances",
    "route53_zone_signing",
    "route53_zone_vpcs",
    "route53_zones",
]

route53_zones = sa.Table(
    "route53_zones",
    metadata,
    sa.Column("zone_id", key_text(), primary_key=True),
    sa.Column("tenant_id", key_text(), nullable=False),
    sa.Column("name", key_text(), nullable=False),
    sa.Column("caller_reference", key_text(), nullable=False),
    sa.Column("private", sa.Boolean, nullable=False),
    sa.Column("definition", sa.Text, nullable=False),  # JSON: comment, tags, VPCs, records
    sa.Column("created", sa.BigInteger, nullable=False),  # ms
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("billed_month", sa.Integer, nullable=False),  # YYYYMM the zone was last billed for
    sa.Column("format_version", sa.Integer, nullable=False),
    sa.UniqueConstraint("tenant_id", "caller_reference"),
)

route53_zone_vpcs = sa.Table(
    "route53_zone_vpcs",
    metadata,
    sa.Column("zone_id", key_text(), primary_key=True),
    sa.Column("vpc_id", key_text(), primary_key=True),
    sa.Column("region", key_text(), nullable=False),
    sa.Index("ix_route53_zone_vpcs_vpc_id", "vpc_id"),
)

route53_changes = sa.Table(
    "route53_changes",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("change_id", key_text(), primary_key=True),
    sa.Column("submitted", sa.BigInteger, nullable=False),  # ms
)

# Health checks (decision 0285, migration 0133): the definition (configuration, tags) as JSON
# written by compare-and-set on ``revision``, the status the checkers keep as JSON beside it,
# the rounds claimed by ``claim`` (one gateway a round), a deleted check kept as a tombstone
# so that its caller reference stays used.
route53_health_checks = sa.Table(
    "route53_health_checks",
    metadata,
    sa.Column("health_check_id", key_text(), primary_key=True),
    sa.Column("tenant_id", key_text(), nullable=False),
    sa.Column("caller_reference", key_text(), nullable=False),
    sa.Column("definition", sa.Text, nullable=False),  # JSON: config, tags, version
    sa.Column("status", sa.Text, nullable=False),  # JSON: the checkers' last results
    sa.Column("created", sa.BigInteger, nullable=False),  # ms
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("deleted", sa.Boolean, nullable=False),
    sa.Column("next_check", sa.BigInteger, nullable=False),  # ms
    sa.Column("claim", sa.Integer, nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
    sa.UniqueConstraint("tenant_id", "caller_reference"),
    sa.Index("ix_route53_health_checks_next_check", "next_check"),
)

# Query logging (decision 0305, migration 0141): one configuration a hosted zone.
route53_query_logging_configs = sa.Table(
    "route53_query_logging_configs",
    metadata,
    sa.Column("config_id", key_text(), primary_key=True),
    sa.Column("tenant_id", key_text(), nullable=False),
    sa.Column("zone_id", key_text(), nullable=False),
    sa.Column("group_arn", sa.Text, nullable=False),
    sa.Column("created", sa.BigInteger, nullable=False),  # ms
    sa.UniqueConstraint("zone_id"),
    sa.Index("ix_route53_query_logging_configs_tenant_id", "tenant_id"),
)

# DNSSEC signing (decision 0317): a zone's key-signing keys, unique by name and by KMS key.
route53_key_signing_keys = sa.Table(
    "route53_key_signing_keys",
    metadata,
    sa.Column("zone_id", key_text(), primary_key=True),
    sa.Column("name", key_text(), primary_key=True),
    sa.Column("tenant_id", key_text(), nullable=False),
    sa.Column("kms_arn", key_text(), nullable=False),
    sa.Column("status", key_text(), nullable=False),
    sa.Column("status_message", sa.Text, nullable=False),
    sa.Column("public_key", sa.LargeBinary, nullable=False),  # SubjectPublicKeyInfo DER
    sa.Column("caller_reference", sa.Text, nullable=False),
    sa.Column("created", sa.BigInteger, nullable=False),  # ms
    sa.Column("modified", sa.BigInteger, nullable=False),  # ms
    sa.Column("format_version", sa.Integer, nullable=False),
    sa.UniqueConstraint("zone_id", "kms_arn"),
    sa.Index("ix_route53_key_signing_keys_tenant_id", "tenant_id"),
)

# A zone's signing state and its zone-signing keys (JSON: each one's creation, public key and
# private key sealed under the account's key), written by compare-and-set on ``version``.
route53_zone_signing = sa.Table(
    "route53_zone_signing",
    metadata,
    sa.Column("zone_id", key_text(), primary_key=True),
    sa.Column("tenant_id", key_text(), nullable=False),
    sa.Column("signing", sa.Boolean, nullable=False),
    sa.Column("zone_keys", sa.Text, nullable=False),
    sa.Column("modified", sa.BigInteger, nullable=False),  # ms
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
    sa.Index("ix_route53_zone_signing_tenant_id", "tenant_id"),
)

# Traffic policies (decision 0330, migration 0148): one row a policy version, and the
# instances (their record sets are the zone's, in its definition).
route53_traffic_policies = sa.Table(
    "route53_traffic_policies",
    metadata,
    sa.Column("policy_id", key_text(), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("tenant_id", key_text(), nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("type", key_text(), nullable=False),
    sa.Column("document", sa.Text, nullable=False),
    sa.Column("comment", sa.Text, nullable=False),
    sa.Column("created", sa.BigInteger, nullable=False),  # ms
    sa.Column("format_version", sa.Integer, nullable=False),
    sa.Index("ix_route53_traffic_policies_tenant_id", "tenant_id"),
)

route53_traffic_policy_instances = sa.Table(
    "route53_traffic_policy_instances",
    metadata,
    sa.Column("instance_id", key_text(), primary_key=True),
    sa.Column("tenant_id", key_text(), nullable=False),
    sa.Column("zone_id", key_text(), nullable=False),
    sa.Column("name", key_text(), nullable=False),
    sa.Column("ttl", sa.BigInteger, nullable=False),
    sa.Column("policy_id", key_text(), nullable=False),
    sa.Column("policy_version", sa.Integer, nullable=False),
    sa.Column("policy_type", key_text(), nullable=False),
    sa.Column("state", key_text(), nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("created", sa.BigInteger, nullable=False),  # ms
    sa.Column("format_version", sa.Integer, nullable=False),
    sa.Index("ix_route53_traffic_policy_instances_tenant_id", "tenant_id"),
)

# Reusable delegation sets (decision 0346, migration 0150): the name servers chosen when the
# set was made (JSON list), never changed after; one caller reference an account.
route53_delegation_sets = sa.Table(
    "route53_delegation_sets",
    metadata,
    sa.Column("set_id", key_text(), primary_key=True),
    sa.Column("tenant_id", key_text(), nullable=False),
    sa.Column("caller_reference", key_text(), nullable=False),
    sa.Column("name_servers", sa.Text, nullable=False),
    sa.Column("created", sa.BigInteger, nullable=False),  # ms
    sa.Column("format_version", sa.Integer, nullable=False),
    sa.UniqueConstraint("tenant_id", "caller_reference"),
)

# CIDR collections (decision 0353, migration 0151): the locations and their blocks as one JSON
# ``locations`` written whole by compare-and-set on ``version`` (the API's CollectionVersion);
# a name is unique in an account.
route53_cidr_collections = sa.Table(
    "route53_cidr_collections",
    metadata,
    sa.Column("collection_id", key_text(), primary_key=True),
    sa.Column("tenant_id", key_text(), nullable=False),
    sa.Column("name", key_text(), nullable=False),
    sa.Column("caller_reference", sa.Text, nullable=False),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("locations", sa.Text, nullable=False),
    sa.Column("created", sa.BigInteger, nullable=False),  # ms
    sa.Column("format_version", sa.Integer, nullable=False),
    sa.UniqueConstraint("tenant_id", "name"),
)
