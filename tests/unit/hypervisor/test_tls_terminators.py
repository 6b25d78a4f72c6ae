"""TLS listeners' data plane, pure parts (decision 0210): the router's table marks a TLS
listener's connections for its input chain instead of translating them, and counts none; the
router's input chain accepts that mark; each security policy becomes an ``ssl`` context of its
protocol versions, its ciphers and the ALPN policy's protocols; SNI's choice of a certificate
by its names; the key loaded from memory only; what a terminator counts for
``AWS/NetworkELB`` (its flows, bytes, failed handshakes with clients and targets, and the
connections it holds), over loopback in this process."""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Callable
from dataclasses import replace

import pytest

from andromede.compute.driver_network import InstanceFirewall
from andromede.hypervisor import tls_terminators
from andromede.hypervisor.load_balancer_rules import TERMINATED, render_load_balancers
from andromede.hypervisor.router_firewall import render_firewall
from andromede.hypervisor.tls_terminators import _choose, _names, server_context
from andromede.loadbalancing.certificates import CertificateMaterial
from andromede.loadbalancing.model import ForwardingView
from andromede.loadbalancing.tls import SSL_POLICIES, TlsSettings
from support.tls_certificates import TestCa

TLS = TlsSettings(certificates=("arn:aws:iam::1:server-certificate/www",))


def _material(*names: str) -> CertificateMaterial:
    issued = TestCa().issue(*names)
    return CertificateMaterial("arn", issued.body, "", issued.key.encode())


def test_a_tls_listener_is_marked_for_the_router_not_translated() -> None:
    view = ForwardingView("l1", "vpc-1", ("10.0.1.200",), 443, (("10.0.2.11", 7000),), tls=TLS)
    script = render_load_balancers([view])
    assert f"    ip daddr 10.0.1.200 tcp dport 443 ct mark set {TERMINATED}" in script
    assert "dnat" not in script and "counter name" not in script
    # Its guard is any listener's.
    guarded = render_load_balancers([replace(view, allowed=(("tcp", 443, 443, "10.0.0.0/8"),))])
    assert "tcp dport 443 ct state new ip saddr != { 10.0.0.0/8 } drop" in guarded
    ruleset = render_firewall(
        {"10.0.2.11": InstanceFirewall()},
        transit_cidr="100.64.0.0/16",
        public_cidr="100.65.0.0/16",
        nat={},
        host_transit_ip="100.64.0.1",
        imds_port=16925,
    )
    chain = ruleset.split("  chain input {\n")[1].split("\n  }")[0]
    assert f"    ct mark {TERMINATED} accept" in chain.splitlines()


@pytest.mark.parametrize("name", sorted(SSL_POLICIES))
def test_each_security_policy_is_an_ssl_context(name: str) -> None:
    policy = SSL_POLICIES[name]
    context = server_context(replace(TLS, ssl_policy=name), _material("www.example.test"))
    order = ["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"]
    assert context.minimum_version.name.replace("_", ".") == min(policy.protocols, key=order.index)
    assert context.maximum_version.name.replace("_", ".") == max(policy.protocols, key=order.index)
    if policy.protocols != ("TLSv1.3",):  # TLS 1.3 only: no earlier cipher can be used
        offered = {c["name"] for c in context.get_ciphers() if c["protocol"] != "TLSv1.3"}
        assert offered == {c for c in policy.ciphers if not c.startswith("TLS_")}


def test_the_default_policy_offers_aws_s_list_in_order() -> None:
    policy = SSL_POLICIES["ELBSecurityPolicy-2016-08"]
    assert policy.protocols == ("TLSv1", "TLSv1.1", "TLSv1.2")
    assert policy.ciphers[0] == "ECDHE-ECDSA-AES128-GCM-SHA256"
    assert len(policy.ciphers) == 18
    assert SSL_POLICIES["ELBSecurityPolicy-TLS13-1-3-2021-06"].protocols == ("TLSv1.3",)


def test_sni_prefers_an_exact_name_then_a_wildcard() -> None:
    exact = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    wildcard = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    candidates = [(("*.example.test",), wildcard), (("api.example.test",), exact)]
    assert _choose(candidates, "API.example.test.") is exact
    assert _choose(candidates, "www.example.test") is wildcard
    assert _choose(candidates, "a.b.example.test") is None  # one label only
    assert _choose(candidates, "example.test") is None
    assert _names(_material("www.example.test", "*.api.example.test")) == (
        "www.example.test",
        "*.api.example.test",
    )


def test_the_key_is_loaded_from_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    """``ssl`` reads the chain and key from an anonymous memfd, never a file of a disk."""
    paths: list[str] = []
    load = ssl.SSLContext.load_cert_chain

    def recorded(context: ssl.SSLContext, certfile: str, *args: object, **kwargs: object) -> None:
        paths.append(certfile)
        load(context, certfile)

    monkeypatch.setattr(ssl.SSLContext, "load_cert_chain", recorded)
    context = server_context(
        replace(TLS, alpn_policy="HTTP2Preferred"), _material("www.example.test")
    )
    assert len(paths) == 1 and paths[0].startswith("/proc/self/fd/")
    assert isinstance(context, ssl.SSLContext)


async def test_a_listener_whose_certificate_fails_is_retried_later_not_every_round() -> None:
    from andromede.hypervisor.tls_terminators import RETRY_AFTER, TlsTerminators
    from andromede.loadbalancing.errors import NotFound

    asked: list[str] = []
    now = [100.0]

    async def material(tenant_id: str, arn: str) -> CertificateMaterial:
        asked.append(arn)
        raise NotFound("CertificateNotFound", "gone")

    terminators = TlsTerminators(lambda vpc: "netns-x", material, clock=lambda: now[0])
    view = ForwardingView("l1", "vpc-1", ("10.0.1.200",), 443, (), tenant_id="1", tls=TLS)
    await terminators.apply([view])
    await terminators.apply([view])
    assert len(asked) == 1 and terminators.listening == set()
    now[0] += RETRY_AFTER
    await terminators.apply([view])
    assert len(asked) == 2
    # Changed settings are tried at once.
    await terminators.apply([replace(view, port=8443)])
    assert len(asked) == 3


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _settled(
    terminators: tls_terminators.TlsTerminators, key: tuple[str, str, int, str], flows: int
) -> tuple[int, int, int, int]:
    """The listener's counts once its ``flows`` connections ended."""
    for _ in range(250):
        counted = terminators.counters().get(key)
        if counted and counted[0] == flows and not terminators.active_flows().get(key):
            return counted
        await asyncio.sleep(0.02)
    raise AssertionError(f"not settled: {terminators.counters()}")


async def test_a_terminator_counts_flows_bytes_failed_handshakes_and_held_connections(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """In this process's namespace (the namespace's thread run in place): a verifying TLS
    client through the listener to a plaintext target counts a flow and its bytes both ways,
    and is an active flow while it holds the connection; a client speaking no TLS a flow
    and a failed client handshake; a TLS group's target that speaks no TLS a failed target
    handshake. A listener gone takes its counts."""

    async def in_place(namespace: str, work: Callable[[], int]) -> int:
        return work()

    monkeypatch.setattr(tls_terminators, "_in_netns", in_place)

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"echo " + await reader.read(100))
        await writer.drain()
        writer.close()

    target = await asyncio.start_server(echo, "127.0.0.1", 0)
    target_port = int(target.sockets[0].getsockname()[1])
    ca = TestCa()
    issued = ca.issue("www.example.test")

    async def material(tenant_id: str, arn: str) -> CertificateMaterial:
        return CertificateMaterial(arn, issued.body, "", issued.key.encode())

    plain_port, secure_port = _free_port(), _free_port()
    plain = ForwardingView(
        "l1", "vpc-1", ("127.0.0.1",), plain_port, (("127.0.0.1", target_port),),
        tenant_id="1", tls=TLS,
    )  # fmt: skip
    secure = replace(plain, listener_id="l2", port=secure_port, tls=replace(TLS, target_tls=True))
    terminators = tls_terminators.TlsTerminators(lambda vpc: "in-place", material)
    client = ssl.create_default_context(cadata=ca.pem)
    key = ("vpc-1", "127.0.0.1", plain_port, "tls")
    try:
        await terminators.apply([plain, secure])
        assert terminators.active_flows() == {key: 0, (*key[:2], secure_port, "tls"): 0}
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", plain_port, ssl=client, server_hostname="www.example.test"
        )
        assert terminators.active_flows()[key] == 1
        writer.write(b"hello")
        assert await reader.read(100) == b"echo hello"
        writer.close()
        assert await _settled(terminators, key, 1) == (1, 5 + 10, 0, 0)
        # No TLS from the client: a flow, a failed client handshake.
        reader, writer = await asyncio.open_connection("127.0.0.1", plain_port)
        writer.write(b"GET / HTTP/1.0\r\n\r\n")
        assert await reader.read() == b""
        writer.close()
        assert await _settled(terminators, key, 2) == (2, 15, 1, 0)
        # A TLS group's target that speaks no TLS: a failed target handshake.
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", secure_port, ssl=client, server_hostname="www.example.test"
        )
        writer.write(b"hello")
        assert await reader.read(100) == b""
        writer.close()
        secure_key = ("vpc-1", "127.0.0.1", secure_port, "tls")
        assert (await _settled(terminators, secure_key, 1))[2:] == (0, 1)
        await terminators.apply([secure])
        assert key not in terminators.counters() and key not in terminators.active_flows()
    finally:
        await terminators.close()
        target.close()
        await target.wait_closed()


async def test_a_terminator_writes_an_access_log_line_per_connection_while_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Decision 0269: an NLB TLS listener whose access logs are on writes one line a TLS
    connection when it ends, in AWS's NLB format — the listener, client and node address,
    the durations, the plaintext bytes both ways, the certificate presented, the cipher and
    protocol, the SNI name — and one for a failed handshake with ``-`` for what it never
    chose; turning the logs on or off keeps the listener's connections (not served anew)."""

    async def in_place(namespace: str, work: Callable[[], int]) -> int:
        return work()

    monkeypatch.setattr(tls_terminators, "_in_netns", in_place)

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"echo " + await reader.read(100))
        await writer.drain()
        writer.close()

    target = await asyncio.start_server(echo, "127.0.0.1", 0)
    target_port = int(target.sockets[0].getsockname()[1])
    ca = TestCa()
    issued = ca.issue("www.example.test")

    async def material(tenant_id: str, arn: str) -> CertificateMaterial:
        return CertificateMaterial(arn, issued.body, "", issued.key.encode())

    port = _free_port()
    view = ForwardingView(
        "0123456789abcdef", "vpc-1", ("127.0.0.1",), port, (("127.0.0.1", target_port),),
        tenant_id="1", tls=TLS,
    )  # fmt: skip
    terminators = tls_terminators.TlsTerminators(lambda vpc: "in-place", material)
    client = ssl.create_default_context(cadata=ca.pem)
    key = ("vpc-1", "127.0.0.1", port, "tls")

    async def exchange() -> None:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=client, server_hostname="www.example.test"
        )
        writer.write(b"hello")
        assert await reader.read(100) == b"echo hello"
        writer.close()

    try:
        await terminators.apply([view])
        await exchange()
        await _settled(terminators, key, 1)
        assert terminators.access_logs() == {}  # off: nothing written
        running = terminators._running[("vpc-1", view.listener_id)]
        logged = replace(view, tls=replace(TLS, access_log="net/edge/50dc6c495c0c9188"))
        await terminators.apply([logged])
        assert terminators._running[("vpc-1", view.listener_id)] is running  # kept
        await exchange()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)  # no TLS
        writer.write(b"GET / HTTP/1.0\r\n\r\n")
        assert await reader.read() == b""
        writer.close()
        await _settled(terminators, key, 3)
        for _ in range(50):
            found = terminators.access_logs()
            if found:
                break
            await asyncio.sleep(0.02)
        lines = found[("vpc-1", "127.0.0.1", port)]
        assert terminators.access_logs() == {}  # taken once
        good, failed = (line.split(" ") for line in lines)
        assert len(good) == 22 and good[:2] == ["tls", "2.0"]
        assert good[3:5] == ["net/edge/50dc6c495c0c9188", "0123456789abcdef"]
        assert good[5].startswith("127.0.0.1:") and good[6] == f"127.0.0.1:{port}"
        assert good[7].isdigit() and good[8].isdigit()
        assert good[9:11] == ["5", "10"]  # the plaintext, each way
        assert good[11] == "-" and good[12] == TLS.certificates[0]
        assert good[14] != "-" and good[15] in ("tlsv12", "tlsv13")
        assert good[17] == "www.example.test"
        assert good[2] >= good[21]  # ended after it was created
        assert failed[8] == "-" and failed[12] == "-" and failed[14:16] == ["-", "-"]
        assert failed[9:11] == ["0", "0"]
    finally:
        await terminators.close()
        target.close()
        await target.wait_closed()
