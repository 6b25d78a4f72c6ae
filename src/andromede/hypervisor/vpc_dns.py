"""The Amazon-provided DNS of a VPC's router, and the DHCP options its subnets hand out
(decision 0143). Pure: it builds dnsmasq's command lines and the addresses the router holds;
:class:`~andromede.hypervisor.tenant_network.TenantNetworks` runs them.

A VPC's router (its network namespace on a host) runs one resolver, a dnsmasq of its own
beside the subnets' DHCP servers (those keep ``--port=0``: one process per job, each bound to
what it serves). The resolver listens on the addresses EC2's does — the VPC block's base plus
two (10.0.0.2 for 10.0.0.0/16) and 169.254.169.253 — held by the namespace's loopback, so
every subnet's instances reach them through their gateway, the router, as they reach the
metadata address; the subnet holding the base's /24 reaches the base plus two on its own
link, the bridge answering ARP for the namespace's local addresses. It never listens on the
host: the namespace holds nothing of the host's.

What it answers: with ``enableDnsHostnames``, ``ip-a-b-c-d.<domain>`` for every address of
the VPC's block (A, and PTR for the reverse), synthesised (``--synth-domain``) as EC2's
resolver does rather than listed per instance, so an instance starting or going changes
nothing here; names of ``<domain>`` outside the block, and all of them without
``enableDnsHostnames``, are answered "no such name" here and never forwarded
(``--local``); reverse queries for private ranges are never forwarded either
(``--bogus-priv``). Any other name goes to the host's upstream resolvers
(``hypervisor_dns_upstream``), reached from the namespace's transit address; with none set,
other names are refused. So a VPC never answers for another VPC's names: each router
synthesises its own block only, and answers only its own subnets (its input chain,
:func:`~andromede.hypervisor.router_firewall.render_firewall`) — but for the blocks of the
VPCs peered with it whose side of the connection allows DNS resolution from the remote VPC
(``VpcDns.peer_blocks``, decision 0139's addendum): their ``ip-`` names are synthesised
too, whatever this VPC's own ``enableDnsHostnames`` (the control plane only lists a peer
block while both VPCs have hostnames and support on). And the public DNS names of the VPC's
instances (``VpcDns.public_names``, decision 0151), each answered with the instance's private
address, as EC2's resolver answers them inside the VPC. And the private hosted zones of Route
53 associated with the VPC (``VpcDns.private_zones``, decision 0280): each zone is forwarded to
the router's zone responder (:mod:`~andromede.hypervisor.zone_responder`, decision 0284) and
to nothing else (a name of it that has no record is "no such name", never asked upstream:
AWS's resolver does not fall through), the most specific zone winning as dnsmasq's longest
match does.

While the VPC has private zones, the resolver gives the responder each instance's address as
an EDNS client subnet (decision 0353: IP-based sets answer by it). dnsmasq adds that option
to every query it forwards, so with private zones the resolver forwards other names not to
the upstream resolvers but to the router's upstream forwarder (:func:`forwarder_command`,
decision 0373): a second dnsmasq on the namespace's loopback that strips the client subnet
before asking them. The operator's resolvers never learn an instance's address nor which names
it looks up.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from andromede.compute.driver_network import (
    VpcDns,
)

__all__ = [
    "AMAZON_PROVIDED_DNS",
    "LINK_LOCAL_RESOLVER",
    "ZONE_RESPONDER_ADDRESS",
    "dhcp_option_args",
    "forwarder_command",
    "resolver_address",
    "resolver_addresses",
    "resolver_command",
]

AMAZON_PROVIDED_DNS: Final = "AmazonProvidedDNS"
# Where the router's zone responder listens, on the namespace's loopback (decision 0284).
ZONE_RESPONDER_ADDRESS: Final = "127.0.0.1"
RESPONDER_PORT: Final = 5300
# Where the router's upstream forwarder listens, beside it (decision 0373).
FORWARDER_ADDRESS: Final = "127.0.0.1"
FORWARDER_PORT: Final = 5301
# EC2's other address of the resolver, the same in every VPC (link-local, never routed).
LINK_LOCAL_RESOLVER: Final = "169.254.169.253"


def resolver_address(vpc_cidr: str) -> str:
    """The VPC block's base plus two, where EC2's resolver answers (10.0.0.2 in 10.0.0.0/16)."""
    return str(ipaddress.IPv4Network(vpc_cidr).network_address + 2)


def resolver_addresses(vpc_cidr: str) -> tuple[str, str]:
    """Both addresses the router's resolver listens on."""
    return resolver_address(vpc_cidr), LINK_LOCAL_RESOLVER


def resolver_command(
    *,
    pidfile: Path,
    vpc_cidr: str,
    dns: VpcDns,
    upstream: Sequence[str],
) -> list[str] | None:
    """The resolver's dnsmasq arguments (run inside the router's namespace), or None when the
    VPC's ``enableDnsSupport`` is off: then nothing answers DNS in the VPC."""
    if not dns.support:
        return None
    command = [
        "dnsmasq",
        f"--pid-file={pidfile}",
        "--port=53",
        "--bind-interfaces",
        *(f"--listen-address={address}" for address in resolver_addresses(vpc_cidr)),
        # Nothing of the host's: no /etc/hosts, no /etc/resolv.conf.
        "--no-hosts",
        "--no-resolv",
        # Plain words and private reverse queries are not for the upstream resolvers.
        "--domain-needed",
        "--bogus-priv",
    ]
    if dns.domain:
        command.append(f"--local=/{dns.domain}/")
        blocks = [ipaddress.IPv4Network(vpc_cidr)] if dns.hostnames else []
        blocks += [ipaddress.IPv4Network(peer) for peer in dns.peer_blocks]
        command += [f"--synth-domain={dns.domain},{block},ip-" for block in blocks]
    # The public names of the VPC's instances stand for their private addresses here (A only:
    # the private address's reverse stays its ip- name, as on EC2); other public names go to
    # the upstream resolvers, which answer them with the public address.
    command += [f"--address=/{name}/{address}" for name, address in dns.public_names]
    # Each private zone is the zone responder's (decision 0284): only it is asked of the
    # zone's names, so a name it does not hold is "no such name", never forwarded further.
    command += [
        f"--server=/{zone}/{ZONE_RESPONDER_ADDRESS}#{RESPONDER_PORT}" for zone in dns.private_zones
    ]
    if dns.private_zones:
        # Decision 0353: the responder answers IP-based sets by the instance's address, which
        # the resolver gives it as a client subnet (RFC 7871) — the queries it forwards come
        # from the router. dnsmasq adds it to every forwarded query (it has no per-server
        # switch), so other names go through the forwarder, which strips it (decision 0373).
        command.append("--add-subnet=32,128")
    if _forwarded(dns, upstream):
        command.append(f"--server={FORWARDER_ADDRESS}#{FORWARDER_PORT}")
    else:
        command += [f"--server={server}" for server in upstream]
    return command


def forwarder_command(*, pidfile: Path, dns: VpcDns, upstream: Sequence[str]) -> list[str] | None:
    """The upstream forwarder's dnsmasq arguments (run inside the router's namespace), or None
    when the resolver asks the upstream resolvers itself (no private zone, so no client subnet
    added) or has none to ask. It takes the resolver's queries for names that are not the
    VPC's own on the namespace's loopback and asks the upstream resolvers without their EDNS
    client subnet (``--strip-subnet``; RFC 7871 §11.1 on what a subnet tells of a client);
    the rest of the query (its EDNS, the DNSSEC DO bit) passes as dnsmasq forwards it, over
    UDP and over TCP alike. It caches what they answer, which the resolver cannot while it
    adds a client subnet."""
    if not _forwarded(dns, upstream):
        return None
    return [
        "dnsmasq",
        f"--pid-file={pidfile}",
        f"--port={FORWARDER_PORT}",
        "--bind-interfaces",
        f"--listen-address={FORWARDER_ADDRESS}",
        "--no-hosts",
        "--no-resolv",
        "--strip-subnet",
        *(f"--server={server}" for server in upstream),
    ]


def _forwarded(dns: VpcDns, upstream: Sequence[str]) -> bool:
    """Whether the resolver's other names go through the forwarder (decision 0373)."""
    return dns.support and bool(dns.private_zones) and bool(upstream)


def dhcp_option_args(vpc_cidr: str, dns: VpcDns) -> list[str]:
    """The DHCP options a subnet's dnsmasq hands out for its VPC: the name servers (option 6,
    ``AmazonProvidedDNS`` being the router's resolver, left out while ``enableDnsSupport`` is
    off), the domain name (15), NTP servers (42), NetBIOS name servers (44) and node type
    (46)."""
    servers: list[str] = []
    for server in dns.name_servers:
        if server == AMAZON_PROVIDED_DNS:
            if dns.support:
                servers.append(resolver_address(vpc_cidr))
        elif server not in servers:
            servers.append(server)
    args = []
    if servers:
        args.append(f"--dhcp-option=option:dns-server,{','.join(servers)}")
    if dns.domain_name:
        args.append(f"--dhcp-option=option:domain-name,{dns.domain_name}")
    if dns.ntp_servers:
        args.append(f"--dhcp-option=option:ntp-server,{','.join(dns.ntp_servers)}")
    if dns.netbios_name_servers:
        args.append(f"--dhcp-option=option:netbios-ns,{','.join(dns.netbios_name_servers)}")
    if dns.netbios_node_type:
        args.append(f"--dhcp-option=option:netbios-nodetype,{dns.netbios_node_type}")
    return args
