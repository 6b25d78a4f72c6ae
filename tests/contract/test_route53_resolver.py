"""Decisions 0280 and 0284 on the real kernel: a VPC router's resolver (decision 0143)
forwards the Route 53 private zones it is told (``VpcDns.private_zones``) to the router's zone
responder, which answers them (``zone_document``) — A, CNAME, TXT and MX records, each set's
own TTL, a wildcard, a weighted set —, answers "no such name" for a name of a zone that has
no record rather than asking the upstream resolver (AWS's resolver does not fall through),
still forwards other names, and forgets a zone once not told it. Decision 0373: the
instance's address reaches the responder as a client subnet (IP-based sets answer by it) and
never the upstream resolvers. As test_vpc_dns.py: a guest namespace asks with busybox's
``nslookup`` (and dnspython, for TTLs); needs root and ``ip``, ``nft``, ``dnsmasq``,
``busybox``."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

from andromede.compute.driver_network import NetworkSpec, NicSpec, VpcDns
from andromede.hypervisor.tenant_network import TenantNetworks
from andromede.route53.model import HostedZone, RecordSet, made_records
from andromede.route53.responder_data import responder_document
from support.recording_dns import recording_resolver
from support.router_processes import alive, copies, gone
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


ZONE = HostedZone(
    "111111111111", "Z1", "corp.internal.", "r", "", True, 0,
    records=(*made_records("corp.internal.", ("ns.example",)),
        RecordSet("api.corp.internal.", "CNAME", 60, ("db.corp.internal.",)),
        RecordSet("corp.internal.", "MX", 60, ("10 mail.corp.internal.",)),
        RecordSet("corp.internal.", "TXT", 60, ('"v=spf1 -all"',)),
        RecordSet("db.corp.internal.", "A", 42, ("10.7.1.20",)),
        RecordSet("*.corp.internal.", "A", 7, ("10.7.1.99",)),
        RecordSet("team.corp.internal.", "TXT", 60, ('"team"',)),
        RecordSet("www.corp.internal.", "A", 30, ("10.7.1.31",), set_identifier="a", weight=5),
        RecordSet("www.corp.internal.", "A", 30, ("10.7.1.32",), set_identifier="b", weight=0),
    ),
)  # fmt: skip
_DIG = """
import json, sys
import dns.message, dns.query
answers = []
for name in sys.argv[1:]:
    got = dns.query.udp(dns.message.make_query(name, "A"), "10.7.0.2", timeout=4)
    answers.append([(r.ttl, d.to_text()) for r in got.answer for d in r])
print(json.dumps(answers))
"""


def _instance(dns: VpcDns, vpc: str | None = None) -> NicSpec:
    """The guest's interface, 10.7.1.5 in a new subnet 10.7.1.0/24 of ``vpc`` (a new one by
    default) whose DNS is ``dns``."""
    subnet = NetworkSpec(
        network_id="subnet-" + secrets.token_hex(4),
        tenant_id="111111111111",
        cidr="10.7.1.0/24",
        vpc_id=vpc or "vpc-" + secrets.token_hex(4),
        vpc_cidr="10.7.0.0/16",
        dns=dns,
    )
    return NicSpec(network=subnet, mac="02:00:00:00:01:05", private_ip="10.7.1.5")


def _dig(client: Guest, *names: str) -> list[list[tuple[int, str]]]:
    """Each name's A answer as (TTL, address), asked with dnspython from the guest."""
    done = client.run(sys.executable, "-c", _DIG, *names, timeout=30)
    assert done.returncode == 0, done.stderr
    return [[(ttl, address) for ttl, address in answer] for answer in json.loads(done.stdout)]


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
            DNS, private_zones=("corp.internal",), zone_document=responder_document([ZONE], {}, {})
        )
        vpc = "vpc-" + secrets.token_hex(4)
        nic = _instance(zoned, vpc)
        try:
            async with guest(manager, "i-a", nic) as a:
                assert "Address: 10.7.1.20" in _lookup(a, "db.corp.internal", "10.7.0.2")
                assert "Address: 10.7.1.20" in _lookup(a, "db.corp.internal", "169.254.169.253")
                cname = _lookup(a, "api.corp.internal", "10.7.0.2")
                assert "db.corp.internal" in cname and "10.7.1.20" in cname
                assert "v=spf1 -all" in _lookup(a, "corp.internal", "10.7.0.2", "txt")
                assert "mail.corp.internal" in _lookup(a, "corp.internal", "10.7.0.2", "mx")
                missing = _lookup(a, "nothere.team.corp.internal", "10.7.0.2")
                assert "NXDOMAIN" in missing and "192.0.2.97" not in missing
                # Decision 0284: the set's own TTL, a wildcard at any depth, a weighted set
                # (the one of weight 0 never answered while the other weighs).
                asked = _dig(a, "db.corp.internal", "x.y.corp.internal", *["www.corp.internal"] * 5)
                # (dnsmasq caches them: the TTL it gives counts down from the set's.)
                [(ttl, address)] = asked[0]
                assert address == "10.7.1.20" and 30 < ttl <= 42
                [(ttl, address)] = asked[1]
                assert address == "10.7.1.99" and 0 < ttl <= 7
                assert all(
                    [address for _, address in answer] == ["10.7.1.31"] for answer in asked[2:]
                )
                assert "Address: 192.0.2.99" in _lookup(a, "www.example.test", "10.7.0.2")
                await manager.set_vpc_dns(vpc, DNS)
                assert "Address: 192.0.2.97" in _lookup(a, "db.corp.internal", "10.7.0.2")
        finally:
            for network_id in list(manager._state.networks):
                await manager.remove(network_id)
            subprocess.run(["kill", pidfile.read_text().strip()], check=False)


# Decision 0373's zone: an IP-based set answering the instance's /24, and the default one.
ROUTED = HostedZone(
    "111111111111", "Z2", "corp.internal.", "r", "", True, 0,
    records=(*made_records("corp.internal.", ("ns.example",)),
        RecordSet("ip.corp.internal.", "A", 60, ("10.7.1.61",), set_identifier="office",
                  cidr_routing=("c", "office")),
        RecordSet("ip.corp.internal.", "A", 60, ("10.7.1.69",), set_identifier="rest",
                  cidr_routing=("c", "*")),
    ),
)  # fmt: skip
_ASK = """
import json, sys
import dns.message, dns.query
ip = dns.query.udp(dns.message.make_query("ip.corp.internal", "A"), "10.7.0.2", timeout=10)
signed = dns.message.make_query("www.example.test", "A", want_dnssec=True)
www = dns.query.udp(signed, "169.254.169.253", timeout=10)
tcp = dns.query.tcp(dns.message.make_query("tcp.example.test", "A"), "10.7.0.2", timeout=10)
print(json.dumps([[d.to_text() for r in m.answer for d in r] for m in (ip, www, tcp)]))
"""


async def test_the_upstream_resolvers_never_see_the_instances_address(tmp_path: Path) -> None:
    """With a private zone associated, the responder answers an IP-based set by the
    instance's address, while the upstream resolver, asked the other names over UDP (the DO
    bit kept) and TCP, gets no client subnet at all."""
    with outside_addresses() as [address], recording_resolver(address, "192.0.2.99") as upstream:
        manager = TenantNetworks(
            tmp_path / "net", replace(random_layout("r"), dns_upstream=(address,))
        )
        collections = {"c": {"office": ["10.7.1.0/24"]}}
        zoned = replace(
            DNS,
            private_zones=("corp.internal",),
            zone_document=responder_document([ROUTED], {}, {}, collections=collections),
        )
        nic = _instance(zoned)
        try:
            async with guest(manager, "i-a", nic) as a:
                done = a.run(sys.executable, "-c", _ASK, timeout=60)
                assert done.returncode == 0, done.stderr
                assert json.loads(done.stdout) == [["10.7.1.61"], ["192.0.2.99"], ["192.0.2.99"]]
                # The forwarder gone (killed), the router's restore starts it again, so the
                # resolver never goes back to asking upstream with the instance's address.
                [pidfile] = (tmp_path / "net").glob("forwarder-*.pid")
                killed = int(pidfile.read_text())
                os.kill(killed, signal.SIGKILL)
                await gone(killed)
                await manager.restore()
                restarted = int(pidfile.read_text())
                assert restarted != killed and alive(restarted)
                done = a.run(sys.executable, "-c", _ASK, timeout=60)
                assert done.returncode == 0, done.stderr
                assert json.loads(done.stdout)[1:] == [["192.0.2.99"], ["192.0.2.99"]]
        finally:
            for network_id in list(manager._state.networks):
                await manager.remove(network_id)
        assert not alive(restarted)  # the router's removal stops it
        received = upstream.received
        asked = {(r.name, r.transport) for r in received}
        assert {("www.example.test.", "udp"), ("tcp.example.test.", "tcp")} <= asked
        assert not [r for r in received if r.name.endswith("corp.internal.")]
        assert all(r.dnssec_ok for r in received if r.name == "www.example.test.")
        assert [r for r in received if r.client_subnets] == []


async def test_a_killed_dns_process_is_started_again_within_a_round(tmp_path: Path) -> None:
    """Decision 0375: the zone responder, the upstream forwarder and the resolver, each
    killed in turn (SIGKILL, as the OOM killer does), are found dead by the supervision and
    started again alone: a guest's private and public names answer again within the bound,
    and one copy of each runs."""
    with outside_addresses() as [address], recording_resolver(address, "192.0.2.99"):
        layout = replace(random_layout("r"), dns_upstream=(address,), dns_supervise_interval=1.0)
        manager = TenantNetworks(tmp_path / "net", layout)
        zoned = replace(
            DNS, private_zones=("corp.internal",), zone_document=responder_document([ZONE], {}, {})
        )
        nic = _instance(zoned)
        supervision = asyncio.create_task(manager.supervise_dns_forever())
        try:
            async with guest(manager, "i-a", nic) as a:
                await _answered(a, "before")
                for kind in ("zones", "forwarder", "resolver"):
                    [pidfile] = (tmp_path / "net").glob(f"{kind}-*.pid")
                    killed = int(pidfile.read_text())
                    others = {
                        other: other.read_text()
                        for other in (tmp_path / "net").glob("*.pid")
                        if other != pidfile
                    }
                    os.kill(killed, signal.SIGKILL)
                    await gone(killed)
                    # Each name asked once (dnsmasq caches): only a running responder
                    # answers the wildcard, only a running forwarder the public name.
                    seconds = await _answered(a, kind)
                    assert seconds < 20, f"{kind}: answered again after {seconds:.1f} s"
                    assert [copies(pidfile)] == [[int(pidfile.read_text())]]
                    assert int(pidfile.read_text()) != killed
                    # The others left running as they were.
                    assert {other: other.read_text() for other in others} == others
                assert manager.process_restarts() == {
                    "resolver": 1,
                    "responder": 1,
                    "forwarder": 1,
                    "dhcp": 0,
                }
        finally:
            supervision.cancel()
            await asyncio.gather(supervision, return_exceptions=True)
            for network_id in list(manager._state.networks):
                await manager.remove(network_id)


async def _answered(client: Guest, label: str) -> float:
    """Seconds until a private name (the zone's wildcard) and a public one answer the guest,
    each a new name per try; 40 s at most."""
    start = time.monotonic()
    for attempt in range(1000):
        assert time.monotonic() - start < 40, f"{label}: not answered again"
        private = await asyncio.to_thread(
            _lookup, client, f"{label}-{attempt}.corp.internal", "10.7.0.2"
        )
        public = await asyncio.to_thread(
            _lookup, client, f"{label}-{attempt}.example.test", "10.7.0.2"
        )
        if "Address: 10.7.1.99" in private and "Address: 192.0.2.99" in public:
            return time.monotonic() - start
        await asyncio.sleep(0.2)
    raise AssertionError(label)
