"""Decision 0280 on the real kernel: a VPC router's resolver (decision 0143) answers the
Route 53 private zones it is told (``VpcDns.private_zones`` and ``zone_records``) — A, CNAME,
TXT and MX records —, answers "no such name" for a name of a zone that has no record rather
than asking the upstream resolver (AWS's resolver does not fall through), still forwards
other names, and forgets a zone once not told it. As test_vpc_dns.py: a guest namespace asks
with busybox's ``nslookup``; needs root and ``ip``, ``nft``, ``dnsmasq``, ``busybox``."""

from __future__ import annotations

import secrets
import subprocess
from dataclasses import replace
from pathlib import Path

from andromede.compute.driver_network import NetworkSpec, NicSpec, VpcDns
from andromede.hypervisor.tenant_network import TenantNetworks
from support.tenant_networks import (
    Guest,
    guest,
    needs_root_and_tools,
    outside_addresses,
    random_layout,
)

__all__ = ["needs_root_and_tools"]  # the fixture this module takes from support

DOMAIN = "eu-fr-1.compute.internal"
DNS = VpcDns(support=True, hostnames=True, domain=DOMAIN, domain_name=DOMAIN)


def _lookup(client: Guest, name: str, server: str, kind: str = "") -> str:
    args = ["timeout", "4", "busybox", "nslookup"] + ([f"-type={kind}"] if kind else [])
    done = client.run(*args, name, server, timeout=10)
    return "timeout" if done.returncode == 124 else done.stdout + done.stderr


async def test_a_private_zone_is_answered_without_fallthrough(tmp_path: Path) -> None:
    with outside_addresses() as [upstream]:
        pidfile = tmp_path / "upstream.pid"
        subprocess.run(
            ["dnsmasq", f"--pid-file={pidfile}", "--port=53", "--bind-interfaces",
             f"--listen-address={upstream}", "--no-hosts", "--no-resolv",
             "--address=/example.test/192.0.2.99", "--address=/corp.internal/192.0.2.97"],
            check=True,
        )  # fmt: skip
        manager = TenantNetworks(
            tmp_path / "net", replace(random_layout("r"), dns_upstream=(upstream,))
        )
        zoned = replace(
            DNS,
            private_zones=("corp.internal",),
            zone_records=(
                ("api.corp.internal", "CNAME", "db.corp.internal."),
                ("corp.internal", "MX", "10 mail.corp.internal."),
                ("corp.internal", "TXT", '"v=spf1 -all"'),
                ("db.corp.internal", "A", "10.7.1.20"),
            ),
        )
        vpc = "vpc-" + secrets.token_hex(4)
        subnet = NetworkSpec(
            network_id="subnet-" + secrets.token_hex(4),
            tenant_id="111111111111",
            cidr="10.7.1.0/24",
            vpc_id=vpc,
            vpc_cidr="10.7.0.0/16",
            dns=zoned,
        )
        nic = NicSpec(network=subnet, mac="02:00:00:00:01:05", private_ip="10.7.1.5")
        try:
            async with guest(manager, "i-a", nic) as a:
                assert "Address: 10.7.1.20" in _lookup(a, "db.corp.internal", "10.7.0.2")
                assert "Address: 10.7.1.20" in _lookup(a, "db.corp.internal", "169.254.169.253")
                cname = _lookup(a, "api.corp.internal", "10.7.0.2")
                assert "db.corp.internal" in cname and "10.7.1.20" in cname
                assert "v=spf1 -all" in _lookup(a, "corp.internal", "10.7.0.2", "txt")
                assert "mail.corp.internal" in _lookup(a, "corp.internal", "10.7.0.2", "mx")
                missing = _lookup(a, "nothere.corp.internal", "10.7.0.2")
                assert "NXDOMAIN" in missing and "192.0.2.97" not in missing
                assert "Address: 192.0.2.99" in _lookup(a, "www.example.test", "10.7.0.2")
                await manager.set_vpc_dns(vpc, DNS)
                assert "Address: 192.0.2.97" in _lookup(a, "db.corp.internal", "10.7.0.2")
        finally:
            for network_id in list(manager._state.networks):
                await manager.remove(network_id)
            subprocess.run(["kill", pidfile.read_text().strip()], check=False)
