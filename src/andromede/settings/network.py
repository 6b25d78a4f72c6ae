"""Tenant networks: VPC address ranges, the underlay and VXLAN, DNS, elastic IPs and the
per-tenant limits of VPC resources.

One group of ``andromede.settings.Settings``, which is composed of them all; the fields keep
their ``ANDROMEDE_<NAME>`` environment variables and TOML keys.
Its rules across several of its fields are plain methods, which ``Settings`` runs in a fixed
order once every field is valid.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    Field,
    ValidationInfo,
    field_validator,
)

from andromede.settings.cidr import cidr_networks

# A DNS domain of letters, digits and hyphens, labels of 1 to 63 characters (RFC 1035 §2.3.1).
_DNS_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_DNS_DOMAIN = re.compile(rf"(?:{_DNS_LABEL}\.)*{_DNS_LABEL}")


def _is_point(text: str) -> bool:
    """``"latitude,longitude"`` in degrees on the globe (Route 53's places, decision 0339)."""
    latitude, _, longitude = text.partition(",")
    try:
        point = float(latitude), float(longitude)
    except ValueError:
        return False
    return -90 <= point[0] <= 90 and -180 <= point[1] <= 180


class NetworkSettings(BaseModel):
    """VPC networking on the hypervisor hosts."""

    hypervisor_networking: Literal["auto", "bridge", "user"] = Field(
        default="auto",
        description=(
            "How QEMU guests are wired: bridge (tenant networks: a namespace and bridge per"
            " network, nftables security groups; needs root), user (QEMU user-mode networking"
            " with port forwards) or auto (bridge where a probe shows the host can, else user)."
        ),
    )
    hypervisor_transit_cidr: str = Field(
        default="100.64.0.0/16",
        description="Host range cut into one /30 link between the host and each tenant network.",
    )
    hypervisor_public_cidr: str = Field(
        default="100.65.0.0/16",
        description="Host-only range of the instances' public addresses (1:1 NAT, never routed).",
    )
    hypervisor_link_prefix: str = Field(
        default="andr",
        min_length=1,
        max_length=6,
        pattern=r"^[A-Za-z0-9]+$",
        description="Start of the names of this host's network namespaces and host-side links.",
    )
    hypervisor_underlay_address: str = Field(
        default="",
        description=(
            "This hypervisor's IPv4 address on the network between hosts: a tenant network's"
            " instances on several hosts are joined over VXLAN from it. Empty: no overlay, each"
            " host's tenant networks are its own."
        ),
    )
    hypervisor_underlay_netns: str = Field(
        default="",
        max_length=254,
        # What `ip netns add` accepts (a file name under /run/netns), kept to characters
        # that need no quoting and cannot read as an option of `ip -n`.
        pattern=r"^([A-Za-z0-9_][A-Za-z0-9_.-]*)?$",
        description=(
            "Network namespace (a name of `ip netns`) that holds hypervisor_underlay_address,"
            " for hosts that keep the network between hosts in a namespace of its own (as"
            " namespace-backed VRFs are);"
            " the VXLAN sockets are opened there (an agent whose namespace does not hold the"
            " address does not start). Empty: the host's own namespace."
        ),
    )
    hypervisor_vxlan_port: int = Field(
        default=4789,
        ge=1,
        # The next port carries the VPC peering segments (hypervisor/peering_segments.py).
        le=65534,
        description=(
            "UDP port this hypervisor receives the tenant networks' VXLAN traffic on; the next"
            " port (this one plus 1) carries the VPC peering connections' segments across hosts"
            " (decision 0139)."
        ),
    )
    hypervisor_underlay_mtu: int = Field(
        default=1500,
        ge=626,
        le=65535,
        description=(
            "MTU of the network between hosts; guests on tenant networks that span hosts get"
            " 50 bytes less (the VXLAN encapsulation)."
        ),
    )
    hypervisor_elastic_ip_uplink: str = Field(
        default="",
        max_length=15,
        pattern=r"^[A-Za-z0-9_.-]*$",
        description=(
            "Interface on which this hypervisor answers ARP for the Elastic IPs it holds (proxy"
            " entries), so a router on that segment reaches them through it; IPv4 forwarding is"
            " turned on for it, and only the Elastic IPs (and replies) cross from it into the"
            " tenant networks. Empty: the operator's network routes elastic_ip_cidr to the"
            " hypervisors, or the addresses stay on the host."
        ),
    )
    hypervisor_dns_upstream: tuple[str, ...] = Field(
        default=(),
        max_length=8,
        description=(
            "IPv4 addresses of the resolvers to which each VPC's Amazon-provided DNS (its"
            " router's resolver, at the VPC block's base plus two and 169.254.169.253) sends"
            " the names that are not the VPC's; reached from the routers' transit addresses, so"
            " the host must route (and masquerade) hypervisor_transit_cidr to them. Empty: such"
            " names are refused, the VPC's own names still resolve (decision 0143)."
        ),
    )
    hypervisor_dns_supervise_interval: float = Field(
        default=5.0,
        ge=0.5,
        le=300.0,
        description=(
            "Seconds between two checks of each VPC router's DNS processes (its resolver, zone"
            " responder and upstream forwarder) and of its subnets' DHCP servers: one found dead"
            " (OOM killer, crash) is started again with its current configuration, so a VPC's"
            " DNS answers and DHCP hands out leases again within about this; one dying at once"
            " is restarted after twice the wait each time, 5 minutes at most (decisions 0375,"
            " 0378)."
        ),
    )
    max_vpcs_per_tenant: int = Field(
        default=5,
        ge=1,
        le=10000,
        description="Most VPCs one tenant may hold, its default VPC included (EC2's quota: 5).",
    )
    max_subnets_per_vpc: int = Field(
        default=200,
        ge=1,
        le=10000,
        description="Most subnets one VPC may hold, a default subnet included (EC2's quota: 200).",
    )
    max_route_tables_per_vpc: int = Field(
        default=200,
        ge=1,
        le=10000,
        description="Most route tables one VPC may hold, its main table included (EC2's quota: "
        "200).",
    )
    max_routes_per_route_table: int = Field(
        default=50,
        ge=1,
        le=1000,
        description="Most routes one route table may hold besides its local route, a route to "
        "a prefix list counting as its MaxEntries (EC2's quota: 50).",
    )
    max_network_acls_per_vpc: int = Field(
        default=200,
        ge=1,
        le=10000,
        description="Most network ACLs one VPC may hold, its default ACL included (EC2's quota: "
        "200).",
    )
    max_network_acl_entries: int = Field(
        default=20,
        ge=1,
        le=1000,
        description="Most entries one network ACL may hold in each direction, its * rule not "
        "counted (EC2's quota: 20).",
    )
    max_nat_gateways_per_az: int = Field(
        default=5,
        ge=1,
        le=1000,
        description="Most NAT gateways, deleted ones not counted, a tenant may hold in the "
        "availability zone (EC2's quota: 5).",
    )
    max_vpc_peerings_per_vpc: int = Field(
        default=50,
        ge=1,
        le=125,
        description="Most active VPC peering connections one VPC may be a side of (EC2's "
        "quota: 50, at most 125).",
    )
    max_dhcp_options_per_tenant: int = Field(
        default=1000,
        ge=1,
        le=100000,
        description="Most DHCP options sets a tenant may hold, its default set counted (EC2's "
        "quota: 1,000 per Region).",
    )
    # Elastic network interfaces (decision 0161).
    max_network_interfaces_per_instance: int = Field(
        default=4,
        ge=1,
        le=32,
        description="Most network interfaces one instance may have, its primary counted "
        "(AttachmentLimitExceeded beyond; EC2's t3 types allow 2 to 4).",
    )
    max_private_ips_per_interface: int = Field(
        default=15,
        ge=1,
        le=64,
        description="Most private IPv4 addresses one network interface may hold, its primary "
        "counted (PrivateIpAddressLimitExceeded beyond; EC2's t3.large allows 12, m5.4xlarge 30).",
    )
    # IPv6 in VPCs (decision 0217).
    vpc_ipv6_pool: str = Field(
        default="fd9c:4e27:5a00::/40",
        description="The IPv6 block from which each VPC asking for an Amazon-provided IPv6 block"
        " (AmazonProvidedIpv6CidrBlock) takes a /56, at most 2^(56-prefix) VPCs. The default is"
        " a unique local (RFC 4193) block, reachable within the platform only; an operator with"
        " global addresses routed to the hypervisors sets its own. Empty: no IPv6 blocks.",
    )
    max_ipv6_addresses_per_interface: int = Field(
        default=10,
        ge=1,
        le=64,
        description="Most IPv6 addresses one network interface may hold "
        "(InvalidParameterValue beyond; EC2's t3.micro allows 2, m5.large 10).",
    )
    # VPC flow logs (decision 0153).
    max_flow_logs_per_tenant: int = Field(
        default=100,
        ge=1,
        le=100000,
        description="Most VPC flow logs a tenant may hold (FlowLogsLimitExceeded beyond).",
    )
    flow_log_max_flows: int = Field(
        default=10000,
        ge=1,
        le=10000000,
        description="Most flows a host keeps per aggregation interval for the flow logs, IPv4 "
        "and IPv6 together; the flows beyond are counted and reported as a SKIPDATA record of "
        "their interface.",
    )
    flow_log_delivery_interval: float = Field(
        default=60.0,
        ge=1,
        le=3600,
        description="Seconds between two collections of the hosts' flow records, each "
        "delivered as one gzip object per flow log into its bucket.",
    )
    network_meter_platform_cidrs: tuple[str, ...] = Field(
        default=(),
        max_length=64,
        description=(
            "IPv4 blocks of the platform's own besides the hypervisors' transit and public"
            " ranges and elastic_ip_cidr (the object store's public endpoint, the operator's"
            " LAN; vpc_endpoint_s3_addresses are counted in already): what instances send"
            " there is not billed as ec2.transfer.out, the bytes to"
            " the internet (decision 0176). The hosts' meters are read at every"
            " flow_log_delivery_interval."
        ),
    )
    max_prefix_lists_per_tenant: int = Field(
        default=100,
        ge=1,
        le=100000,
        description="Most customer-managed prefix lists a tenant may hold (EC2's quota: 100 per "
        "Region).",
    )
    max_prefix_list_entries: int = Field(
        default=1000,
        ge=1,
        le=100000,
        description="The highest MaxEntries a managed prefix list may take (EC2's: 1,000).",
    )
    prefix_list_versions_kept: int = Field(
        default=100,
        ge=1,
        le=10000,
        description="Earlier versions of a managed prefix list kept beside its current one, for "
        "GetManagedPrefixListEntries' TargetVersion and RestoreManagedPrefixListVersion; older "
        "ones are forgotten.",
    )
    max_rules_per_security_group: int = Field(
        default=60,
        ge=1,
        le=1000,
        description="Most rules of one security group in each direction, a managed prefix "
        "list's reference counting as its MaxEntries (EC2's quota: 60, at most 1,000).",
    )
    nat_gateway_deleted_visible_seconds: float = Field(
        default=3600.0,
        ge=0,
        le=30 * 86400,
        description="Seconds DescribeNatGateways keeps listing a deleted NAT gateway, as "
        "deleted (EC2: about an hour).",
    )
    elastic_ip_cidr: str = Field(
        default="100.66.0.0/24",
        description=(
            "The Region's Elastic IP addresses (AllocateAddress takes them from it): a block the"
            " operator's network routes to the hypervisors, or that hosts announce on"
            " hypervisor_elastic_ip_uplink. The default is a host-only range for a single"
            " machine. Empty: no Elastic IPs."
        ),
    )
    public_dns_domain: str = Field(
        default="",
        # ec2-255-255-255-255.<region: 63 at most>.compute.<domain> within DNS's 253.
        max_length=150,
        description=(
            "The operator's domain under which instances with a public address get EC2's"
            " public DNS names, ec2-a-b-c-d.<region>.compute.<public_dns_domain> (decision"
            " 0151): DescribeInstances' PublicDnsName, answered with the private address by"
            " the VPC's resolver, and listed by `andromede admin dns zone` for the operator's"
            " authoritative DNS. Empty: no public DNS names."
        ),
    )
    max_elastic_ips_per_tenant: int = Field(
        default=5,
        ge=0,
        le=100000,
        description="Most Elastic IP addresses one tenant may hold (EC2's quota: 5).",
    )

    # VPC gateway endpoints to the object store (decision 0160).
    max_vpc_endpoints_per_tenant: int = Field(
        default=20,
        ge=1,
        le=10000,
        description="Most VPC gateway endpoints a tenant may hold (EC2's quota: 20 per Region;"
        " VpcEndpointLimitExceeded beyond).",
    )
    max_interface_endpoints_per_vpc: int = Field(
        default=8,
        ge=1,
        le=32,
        description="Most Interface VPC endpoints one VPC may hold (decision 0166; each takes"
        " a slot of source ports at the hosts' endpoint listeners; VpcEndpointLimitExceeded"
        " beyond).",
    )
    vpc_endpoint_s3_addresses: tuple[str, ...] = Field(
        default=(),
        description="The object store's IPv4 addresses (CIDR blocks) as guests see them: the"
        " AWS-managed prefix list com.amazonaws.<region>.s3, which a VPC endpoint's routers"
        " redirect to the host's endpoint listener; none = endpoints route nothing.",
    )
    hypervisor_vpce_port: int = Field(
        default=16926,
        ge=1,
        le=65535,
        description="Port of the VPC endpoints' listener on each tenant network's host transit"
        " address (the object store, for what a VPC endpoint's routes redirect there).",
    )

    hypervisor_vpce_tls_port: int = Field(
        default=16927,
        ge=1,
        le=65535,
        description="Port of the VPC endpoints' TLS listener on each transit address, where the"
        " routers send what guests send to the object store's port 443 (only with"
        " vpc_endpoint_tls_cert).",
    )
    vpc_endpoint_tls_cert: Path | None = Field(
        default=None,
        description="The object store's certificate chain (PEM) with which each host's VPC"
        " endpoint TLS listener answers guests' https (with vpc_endpoint_tls_key); none = no"
        " TLS at the endpoints.",
    )
    vpc_endpoint_tls_key: Path | None = Field(
        default=None,
        description="The private key (PEM) of vpc_endpoint_tls_cert.",
    )
    vpc_endpoint_gateway_url: str = Field(
        default="",
        description="Where a hypervisor agent forwards what its VPC endpoint listeners receive"
        " (a gateway's S3 endpoint, http://host:port); empty = http://<s3_host>:<s3_port>.",
    )
    vpc_endpoint_origin_max_age: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="Seconds a gateway accepts an agent's VPC endpoint origin attestation for"
        " (the clocks' skew between the hosts and the gateways included).",
    )
    route53_name_servers: tuple[str, ...] = Field(
        default=("ns1.route53.andromede.invalid", "ns2.route53.andromede.invalid"),
        min_length=1,
        max_length=13,
        description="Name servers a public Route 53 hosted zone is delegated to: its NS record"
        " and the DelegationSet GetHostedZone answers; the first is its SOA's (decision 0280).",
    )
    route53_max_hosted_zones: int = Field(
        default=500,
        gt=0,
        description="Hosted zones an account may hold in Route 53 (AWS: 500) (decision 0280).",
    )
    route53_max_delegation_sets: int = Field(
        default=100,
        gt=0,
        description="Reusable delegation sets an account may hold in Route 53 (AWS: 100)"
        " (decision 0346).",
    )
    route53_max_zones_by_delegation_set: int = Field(
        default=100,
        gt=0,
        description="Hosted zones one Route 53 reusable delegation set may serve (AWS: 100)"
        " (decision 0346).",
    )
    route53_max_cidr_collections: int = Field(
        default=5,
        gt=0,
        le=1000,
        description="CIDR collections an account may hold in Route 53 (AWS: 5) (decision 0353).",
    )
    route53_max_cidr_blocks: int = Field(
        default=1000,
        gt=0,
        le=100000,
        description="CIDR blocks one Route 53 CIDR collection may hold, all its locations"
        " together (AWS: 1,000) (decision 0353).",
    )
    route53_max_vpc_association_authorizations: int = Field(
        default=100,
        gt=0,
        description="Other accounts' VPCs a Route 53 private hosted zone may authorise to be"
        " associated with it at once (decision 0346).",
    )
    route53_max_changes: int = Field(
        default=1000,
        gt=0,
        le=1000,
        description="Changes one ChangeResourceRecordSets batch may hold (AWS: 1,000)"
        " (decision 0280).",
    )
    route53_max_record_sets: int = Field(
        default=10000,
        gt=0,
        description="Record sets a Route 53 hosted zone may hold (AWS: 10,000) (decision 0280).",
    )
    route53_max_health_checks: int = Field(
        default=200,
        gt=0,
        description="Route 53 health checks an account may hold (AWS: 200) (decision 0285).",
    )
    route53_max_traffic_policies: int = Field(
        default=50,
        gt=0,
        description="Route 53 traffic policies an account may hold (AWS: 50) (decision 0330).",
    )
    route53_max_traffic_policy_versions: int = Field(
        default=1000,
        gt=0,
        description="Versions one Route 53 traffic policy may have (AWS: 1,000) (decision 0330).",
    )
    route53_max_traffic_policy_instances: int = Field(
        default=5,
        gt=0,
        description="Route 53 traffic policy instances (policy records) an account may hold"
        " (AWS: 5) (decision 0330).",
    )
    route53_max_traffic_policy_document: int = Field(
        default=102400,
        gt=0,
        le=102400,
        description="Characters a Route 53 traffic policy document may have (AWS: 102,400)"
        " (decision 0330).",
    )
    route53_health_check_allow_cidrs: tuple[str, ...] = Field(
        default=(),
        description="Networks (CIDR) Route 53 health checks may probe beside public unicast"
        " addresses; an IPAddress, or the address a domain name resolves to at each check,"
        " that is internal (loopback, private, link-local) and in none of these is refused"
        " (decision 0285).",
    )
    route53_health_check_round: float = Field(
        default=5.0,
        gt=0,
        le=10,
        description="Seconds between a gateway's rounds of the Route 53 health checks due;"
        " each check runs every RequestInterval (10 or 30 s), claimed by one gateway"
        " (decision 0285).",
    )
    route53_health_check_batch: int = Field(
        default=100,
        gt=0,
        description="Route 53 health checks a gateway claims in one round (decision 0285).",
    )
    route53_health_check_timeout: float = Field(
        default=4.0,
        gt=0,
        le=30,
        description="Seconds a Route 53 health check waits for its endpoint's connection,"
        " then half as long for an HTTP status (AWS: 4 and 2) (decision 0285).",
    )
    route53_dns_listen: tuple[str, ...] = Field(
        default=(),
        max_length=16,
        description="Addresses (host:port, [v6]:port) the public Route 53 name servers listen"
        " on, UDP and TCP, answering every account's public hosted zones; none = off"
        " (decision 0289).",
    )
    route53_name_server_addresses: dict[str, str] = Field(
        default={},
        description="Which address of route53_dns_listen answers as which name server"
        " (host name: listen address; several names may share one): there only the zones"
        " whose name servers (their reusable delegation set's, else every one of"
        " route53_name_servers) include one of its names are answered, REFUSED for the"
        " others; an address no name maps to answers every zone (decision 0395).",
    )
    route53_dns_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        le=300,
        description="Seconds the public name servers answer from the public zones read, at"
        " most: a change made through this gateway is answered at the next query, one made"
        " through another within this (decision 0289).",
    )
    route53_dns_rate_limit: int = Field(
        default=50,
        ge=0,
        description="UDP queries per second (and as many in a burst) the public name servers"
        " answer one source address; beyond it they drop, every second one answered empty with"
        " TC for the client to ask again over TCP (response rate limiting, as BIND's RRL);"
        " 0 = no limit (decision 0289).",
    )
    route53_dns_max_udp_size: int = Field(
        default=1232,
        ge=512,
        le=4096,
        description="Largest UDP response of the public name servers, whatever the client's"
        " EDNS payload; a larger one is sent truncated (TC) (decision 0289).",
    )
    route53_dns_max_tcp_connections: int = Field(
        default=256,
        gt=0,
        description="TCP connections the public name servers hold at once; one more is"
        " closed at once (decision 0289).",
    )
    route53_region_coordinates: dict[str, str] = Field(
        default={"eu-fr-1": "48.86,2.35"},
        description="Where the places Route 53 geoproximity record sets may name as AWSRegion"
        ' or LocalZoneGroup are (name: "latitude,longitude"), beside AWS\'s commercial'
        " Regions (built in, which these may move); the gateway's region's is where its VPCs'"
        " queriers are, and the public name servers' clients no network places"
        " (decision 0339); the Regions' places also pick the one nearest a client for latency"
        " sets and S3 Multi-Region Access Points (decision 0413).",
    )
    route53_client_locations: dict[str, str] = Field(
        default={},
        description="Where the public name servers' clients are, by network (CIDR:"
        ' "latitude,longitude" or a place of route53_region_coordinates),'
        " the longest prefix holding a query's EDNS client subnet, else its source, winning;"
        " geoproximity sets answer the nearest to it (decision 0339); it comes before the"
        " route53_client_geolocation_file's coordinates, for latency sets and S3"
        " Multi-Region Access Points too (decision 0413).",
    )
    route53_client_regions: dict[str, str] = Field(
        default={},
        description="The Region each network of the public name servers' clients is"
        ' nearest by latency (CIDR: Region, e.g. "eu-west-3"): latency sets answer the'
        " client's Region's set, else the nearest to its place, else to its point"
        " (route53_client_locations, the geolocation file's coordinates: decision 0413); S3"
        " Multi-Region Access Points route the client to its Region while active; none and no"
        " geolocation file = latency sets answered as in a VPC (decision 0395).",
    )
    route53_query_log_buffer: int = Field(
        default=10000,
        ge=1,
        le=1_000_000,
        description="DNS query log lines the public name servers hold in memory for the"
        " hosted zones' query logging configurations, at most, between two flushes into"
        " CloudWatch Logs; one more is dropped, counted and warned of (decision 0305).",
    )
    route53_query_log_flush_seconds: float = Field(
        default=5.0,
        gt=0,
        le=300,
        description="Seconds between two writes of the buffered DNS query log lines into"
        " their log groups, and between two reads of the query logging configurations made"
        " through other gateways (decision 0305).",
    )

    route53_dnssec_signature_validity_seconds: int = Field(
        default=172800,
        ge=7200,
        le=2592000,
        description="Seconds a DNSSEC signature of the public name servers is valid (RRSIG"
        " expiration; its inception an hour before it is made); the key-signing keys' KMS"
        " signatures of a zone's DNSKEY set are made again once half of it is left"
        " (decision 0317).",
    )
    route53_dnssec_zsk_rotation_seconds: int = Field(
        default=7776000,
        ge=7200,
        le=315360000,
        description="Seconds a signed zone's zone-signing key signs before Route 53 rolls it"
        " (pre-published a DNSKEY TTL, an hour, before it takes over) (decision 0317).",
    )

    @field_validator("route53_dns_listen")
    @classmethod
    def _dns_listen(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for address in value:
            host, _, port = address.rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"not a host:port to listen on: {address!r}")
        return value

    @field_validator("route53_name_server_addresses")
    @classmethod
    def _name_server_addresses(cls, value: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        listening = set(info.data.get("route53_dns_listen") or ())
        for name, address in value.items():
            if not 1 <= len(name.rstrip(".")) <= 253 or " " in name:
                raise ValueError(f"route53_name_server_addresses: {name[:64]!r} is no host name")
            if address not in listening:
                raise ValueError(
                    f"route53_name_server_addresses: {address[:64]!r} is not an address of"
                    " route53_dns_listen"
                )
        return value

    @field_validator("route53_region_coordinates")
    @classmethod
    def _region_coordinates(cls, value: dict[str, str]) -> dict[str, str]:
        for name, where in value.items():
            if not 1 <= len(name) <= 64:
                raise ValueError(f"route53_region_coordinates: {name!r} is 1 to 64 characters")
            if not _is_point(where):
                raise ValueError(f"route53_region_coordinates: {where!r} is no latitude,longitude")
        return value

    @field_validator("route53_client_locations")
    @classmethod
    def _client_locations(cls, value: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        named = info.data.get("route53_region_coordinates") or {}
        cidr_networks(tuple(value), info)
        for where in value.values():
            if where not in named and not _is_point(where):
                raise ValueError(
                    f"route53_client_locations: {where!r} is no latitude,longitude nor a place"
                    " of route53_region_coordinates"
                )
        return value

    @field_validator("route53_client_regions")
    @classmethod
    def _client_regions(cls, value: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        cidr_networks(tuple(value), info)
        for region in value.values():
            if not 1 <= len(region) <= 64:
                raise ValueError(f"route53_client_regions: {region[:64]!r} is 1 to 64 characters")
        return value

    @field_validator("route53_health_check_allow_cidrs")
    @classmethod
    def _health_check_networks(
        cls, value: tuple[str, ...], info: ValidationInfo
    ) -> tuple[str, ...]:
        return cidr_networks(value, info)

    @field_validator("vpc_endpoint_s3_addresses")
    @classmethod
    def _endpoint_addresses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        blocks = []
        for block in value:
            try:
                blocks.append(str(ipaddress.IPv4Network(block, strict=False)))
            except ValueError as exc:
                raise ValueError(
                    f"vpc_endpoint_s3_addresses: {block!r} is no IPv4 CIDR block"
                ) from exc
        return tuple(blocks)

    @field_validator("network_meter_platform_cidrs")
    @classmethod
    def _platform_blocks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        blocks = []
        for block in value:
            try:
                network = ipaddress.ip_network(block, strict=False)
            except ValueError as exc:
                raise ValueError(
                    f"network_meter_platform_cidrs: {block!r} is no IPv4 CIDR block"
                ) from exc
            if network.version != 4:
                raise ValueError(f"network_meter_platform_cidrs: {block!r} is no IPv4 CIDR block")
            blocks.append(str(network))
        return tuple(blocks)

    @field_validator("vpc_ipv6_pool")
    @classmethod
    def _ipv6_pool(cls, value: str) -> str:
        if not value:
            return value
        try:
            network = ipaddress.IPv6Network(value, strict=False)
        except ValueError as exc:
            raise ValueError(f"vpc_ipv6_pool: {value!r} is no IPv6 CIDR block") from exc
        if network.prefixlen > 56:
            raise ValueError(f"vpc_ipv6_pool: {value!r} is smaller than one /56")
        return str(network)

    @field_validator("hypervisor_dns_upstream")
    @classmethod
    def _dns_upstream(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for server in value:
            try:
                ipaddress.IPv4Address(server)
            except ValueError as exc:
                raise ValueError(f"hypervisor_dns_upstream: {server!r} is no IPv4 address") from exc
        return value

    @field_validator("public_dns_domain")
    @classmethod
    def _public_dns_domain(cls, value: str) -> str:
        # Lower case, no final dot: it goes into names, zone files and dnsmasq's arguments.
        domain = value.strip().lower().removesuffix(".")
        if domain and not _DNS_DOMAIN.fullmatch(domain):
            raise ValueError(f"public_dns_domain: {value!r} is no DNS domain name")
        return domain

    def _tenant_network_ranges(self) -> None:
        try:
            transit = ipaddress.IPv4Network(self.hypervisor_transit_cidr)
            public = ipaddress.IPv4Network(self.hypervisor_public_cidr)
        except ValueError as exc:
            raise ValueError(f"hypervisor_transit_cidr / hypervisor_public_cidr: {exc}") from None
        if transit.prefixlen > 29:
            raise ValueError("hypervisor_transit_cidr must hold at least two /30 links")
        if transit.overlaps(public):
            raise ValueError("hypervisor_transit_cidr and hypervisor_public_cidr overlap")
        if self.elastic_ip_cidr:
            try:
                elastic = ipaddress.IPv4Network(self.elastic_ip_cidr)
            except ValueError as exc:
                raise ValueError(f"elastic_ip_cidr: {exc}") from None
            if elastic.overlaps(transit) or elastic.overlaps(public):
                raise ValueError(
                    "elastic_ip_cidr overlaps hypervisor_transit_cidr or hypervisor_public_cidr"
                )
        if self.hypervisor_underlay_address:
            try:
                ipaddress.IPv4Address(self.hypervisor_underlay_address)
            except ValueError as exc:
                raise ValueError(f"hypervisor_underlay_address: {exc}") from None
        elif self.hypervisor_underlay_netns:
            raise ValueError("hypervisor_underlay_netns needs hypervisor_underlay_address")
