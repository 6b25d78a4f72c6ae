"""HttpPutResponseHopLimit on the real kernel (decision 0148): a tenant network, a "guest"
namespace on its bridge, and a "container" namespace behind the guest — one router further,
the guest forwarding and masquerading its traffic as Docker's bridge does. The metadata
listener (uvicorn on the network's transit address, the real metadata app) answers the token
PUT with IP_TTL = hop limit + the platform's routers: the guest gets a token with the default
limit of 1, the container gets none; with 2, the container gets one. The guest and the
container pin ``ROUTERS_TO_GUEST`` from both sides: one fewer and the guest would get none,
one more and the container would get one with the limit 1. Needs root, ``ip``, ``nft``,
``dnsmasq`` and ``busybox``, as the other tenant-network tests.
"""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import pytest

from andromede.compute.driver_network import (
    FirewallRule,
    InstanceFirewall,
    NetworkSpec,
    NicSpec,
)
from andromede.hypervisor.metadata_listeners import MetadataListeners
from andromede.hypervisor.tenant_network import NetworkLayout, TenantNetworks
from andromede.imds.app import ImdsLimits, MetadataApp
from andromede.imds.credentials import CredentialsCache
from andromede.imds.instances import InstanceMetadata
from andromede.imds.tokens import TokenAuthority
from support.tenant_networks import Guest, guest, needs_root_and_tools, networks, random_layout

__all__ = ["needs_root_and_tools", "networks"]  # the fixtures this module takes from support

# What a client waits for a token: a dropped answer is retransmitted (and dropped again) for
# longer than this, so "no token" is told apart from "slow token" by the guest's own answer.
NO_TOKEN_AFTER = 3.0
TOKEN_WITHIN = 20.0


@pytest.fixture
def layout() -> NetworkLayout:
    return random_layout("h")


@dataclass
class Directory:
    """The instance the metadata service finds by the address its connections come from."""

    by_ip: dict[str, InstanceMetadata] = field(default_factory=dict)

    async def by_address(self, address: str) -> InstanceMetadata | None:
        return self.by_ip.get(address)


async def _no_credentials(_: InstanceMetadata) -> None:
    return None


def _instance(instance_id: str, private_ip: str, public_ip: str) -> InstanceMetadata:
    return InstanceMetadata(
        instance_id=instance_id,
        account_id="111111111111",
        instance_type="t3.micro",
        image_id="ami-0123456789abcdef0",
        region="eu-fr-1",
        availability_zone="eu-fr-1a",
        private_ip=private_ip,
        mac="02:00:00:00:00:0b",
        launched_at=datetime(2026, 12, 5, 9, 0, tzinfo=UTC),
        local_hostname="ip-10-0-0-11.eu-fr-1.compute.internal",
        public_ip=public_ip,
    )


# A client of the metadata address printing the token it got ("" when none came): it sends
# argv[1], reads the answer until the server closes the connection, prints the first body.
_PROBE = """
import socket, sys
try:
    s = socket.create_connection(("169.254.169.254", 80), timeout=float(sys.argv[2]))
    s.sendall(sys.argv[1].encode())
    answer = b""
    while chunk := s.recv(4096):
        answer += chunk
    head, _, body = answer.partition(b"\\r\\n\\r\\n")
    print(body.split(b"HTTP/1.1")[0].decode() if head.startswith(b"HTTP/1.1 200") else "", end="")
except OSError:
    print("", end="")
"""
PUT = (
    "PUT /latest/api/token HTTP/1.1\r\nHost: 169.254.169.254\r\n"
    "X-aws-ec2-metadata-token-ttl-seconds: 60\r\nContent-Length: 0\r\n\r\n"
)
# A read sent right behind the PUT on the same connection: were its answer sent with an
# unlimited TTL, the unacknowledged token would go out with it.
PIPELINED_GET = "GET /latest/meta-data/ HTTP/1.1\r\nHost: 169.254.169.254\r\n\r\n"


async def _token(netns: str, *, expected: bool, pipelined: bool = False) -> str:
    timeout = TOKEN_WITHIN if expected else NO_TOKEN_AFTER
    request = PUT + (PIPELINED_GET if pipelined else "")
    done = await asyncio.to_thread(
        subprocess.run,
        ["ip", "netns", "exec", netns, sys.executable, "-c", _PROBE, request, str(timeout)],
        capture_output=True,
        text=True,
        timeout=timeout + 10,
        check=False,
    )
    return done.stdout


MASQUERADE = (
    "add table ip docker;"
    " add chain ip docker post { type nat hook postrouting priority 100; };"
    " add rule ip docker post ip saddr 172.31.255.0/30 oifname eth0 masquerade"
)


@contextmanager
def container_behind(g: Guest) -> Iterator[str]:
    """A namespace one router behind the guest: a veth pair, the guest forwarding and
    masquerading its packets out of ``eth0`` (Docker's default bridge network, in short)."""
    name = "c" + secrets.token_hex(4)
    inside, outside = "eth0", "d" + secrets.token_hex(4)
    commands = [
        ["ip", "netns", "add", name],
        ["ip", "link", "add", outside, "netns", g.netns, "type", "veth", "peer", "name", inside,
         "netns", name],
        ["ip", "-n", g.netns, "addr", "add", "172.31.255.1/30", "dev", outside],
        ["ip", "-n", g.netns, "link", "set", outside, "up"],
        ["ip", "-n", name, "link", "set", "lo", "up"],
        ["ip", "-n", name, "addr", "add", "172.31.255.2/30", "dev", inside],
        ["ip", "-n", name, "link", "set", inside, "up"],
        ["ip", "-n", name, "route", "add", "default", "via", "172.31.255.1"],
        ["ip", "netns", "exec", g.netns, "sysctl", "-qw", "net.ipv4.ip_forward=1"],
        ["ip", "netns", "exec", g.netns, "nft", MASQUERADE],
    ]  # fmt: skip
    try:
        for command in commands:
            subprocess.run(command, check=True, capture_output=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)


@asynccontextmanager
async def metadata_on(networks: TenantNetworks, network_id: str, port: int,
                      directory: Directory) -> AsyncIterator[None]:  # fmt: skip
    app = MetadataApp(
        directory,
        CredentialsCache(_no_credentials, refresh_margin=60),
        TokenAuthority(),
        ImdsLimits(access_log=False),
    )
    listeners = MetadataListeners(app, port)
    await listeners.network_up(networks.host_transit_ip(network_id))
    try:
        yield
    finally:
        await listeners.close()


async def test_the_token_answer_reaches_the_guest_and_not_a_container_behind_it(
    networks: TenantNetworks, layout: NetworkLayout
) -> None:
    network = NetworkSpec(
        network_id="vpc-" + secrets.token_hex(4), tenant_id="111111111111", cidr="10.0.0.0/24"
    )
    nic = NicSpec(network=network, mac="02:00:00:00:00:0b", private_ip="10.0.0.11")
    async with guest(networks, "i-hops", nic) as g:
        # The container's traffic leaves the guest as the guest's: its groups allow it out.
        await networks.set_firewall(
            network.network_id,
            {nic.private_ip: InstanceFirewall(egress=(FirewallRule("-1", 0, 0, "0.0.0.0/0"),))},
        )
        plugged = networks.plugged("i-hops")
        assert plugged is not None
        directory = Directory()
        instance = _instance("i-0aaaaaaaaaaaaaaa1", nic.private_ip, plugged.public_ip)
        directory.by_ip[plugged.public_ip] = instance  # EC2's default limit: 1
        async with metadata_on(networks, network.network_id, layout.imds_port, directory):
            with container_behind(g) as container:
                assert await _token(g.netns, expected=True) != ""
                assert await _token(container, expected=False) == ""
                # A read pipelined behind the PUT does not carry the token out either: the
                # connection's TTL is never raised again, and it closes after the answer.
                assert await _token(container, expected=False, pipelined=True) == ""
                assert await _token(g.netns, expected=True, pipelined=True) != ""
                # ModifyInstanceMetadataOptions: read at the next request.
                directory.by_ip[plugged.public_ip] = replace(instance, put_response_hop_limit=2)
                assert await _token(container, expected=True) != ""
                assert await _token(g.netns, expected=True) != ""
                # And back to 1: the container is cut off again.
                directory.by_ip[plugged.public_ip] = instance
                assert await _token(container, expected=False) == ""
