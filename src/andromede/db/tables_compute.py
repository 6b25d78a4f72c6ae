"""Compute tables: one per kind of EC2 resource, all of one shape (id, tenant, JSON document,
format version, revision), plus the subnets' and network interfaces' own columns.

Part of the one ``MetaData`` (``andromede.db.metadata``); ``andromede.db.tables`` re-exports
every table, which the stores and the migrations import from there.
"""

from __future__ import annotations

import sqlalchemy as sa

from andromede.db.metadata import metadata
from andromede.db.types import UtcDateTime, key_text

__all__ = [
    "autoscaling_activities",
    "autoscaling_groups",
    "compute_default_vpcs",
    "compute_dhcp_options",
    "compute_elastic_addresses",
    "compute_flow_logs",
    "compute_images",
    "compute_import_tasks",
    "compute_instances",
    "compute_internet_gateways",
    "compute_ipv6_addresses",
    "compute_ipv6_blocks",
    "compute_key_pairs",
    "compute_launch_template_versions",
    "compute_launch_templates",
    "compute_metadata_defaults",
    "compute_nat_gateways",
    "compute_network_acls",
    "compute_network_interfaces",
    "compute_prefix_lists",
    "compute_private_addresses",
    "compute_route_tables",
    "compute_security_groups",
    "compute_snapshots",
    "compute_spot_prices",
    "compute_spot_requests",
    "compute_subnets",
    "compute_volumes",
    "compute_vpc_endpoints",
    "compute_vpc_peering_connections",
    "compute_vpcs",
]

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

# Secondary private addresses (decision 0161): the id is the subnet and the address, so the
# primary key keeps one holder per address of a subnet.
compute_private_addresses = _compute_table("compute_private_addresses")

# IPv6 in VPCs (decision 0217, migration 0106): the /56 blocks of the operator's pool given to
# VPCs, the id the block, and the addresses interfaces hold, the id the address — the primary
# keys keep one holder of each across gateways and tenants.
compute_ipv6_blocks = _compute_table("compute_ipv6_blocks")
compute_ipv6_addresses = _compute_table("compute_ipv6_addresses")

# VPC flow logs (decision 0153): JSON documents, one per flow log.
compute_flow_logs = _compute_table("compute_flow_logs")

# VPC gateway endpoints (decision 0160, migration 0072): JSON documents, one per endpoint.
compute_vpc_endpoints = _compute_table("compute_vpc_endpoints")

# Spot Instance requests and the Spot price history (decision 0202, migration 0099): JSON
# documents, a request each, a price point each (the platform's: no tenant).
compute_spot_requests = _compute_table("compute_spot_requests")
compute_spot_prices = _compute_table("compute_spot_prices")


# EC2 Auto Scaling (decision 0156, migration 0069): a group by account and name, its JSON
# document written over the revision read; its scaling activities, listed newest first.
autoscaling_groups = sa.Table(
    "autoscaling_groups",
    metadata,
    sa.Column("tenant_id", key_text(), primary_key=True),
    sa.Column("name", key_text(), primary_key=True),
    sa.Column("document", sa.Text, nullable=False),
    sa.Column("format_version", sa.Integer, nullable=False),
    sa.Column("revision", sa.BigInteger, nullable=False),
)
autoscaling_activities = sa.Table(
    "autoscaling_activities",
    metadata,
    sa.Column("activity_id", key_text(), primary_key=True),
    sa.Column("tenant_id", key_text(), nullable=False),
    sa.Column("group_name", key_text(), nullable=False),
    sa.Column("start_time", UtcDateTime, nullable=False),
    sa.Column("document", sa.Text, nullable=False),
    sa.Index(None, "tenant_id", "group_name", "start_time"),
)
