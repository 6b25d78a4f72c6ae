"""TLS listeners' data plane, pure parts (decision 0210): the router's table marks a TLS
listener's connections for its input chain instead of translating them, and counts none; the
router's input chain accepts that mark; each security policy becomes an ``ssl`` context of its
protocol versions, its ciphers and the ALPN policy's protocols; SNI's choice of a certificate
by its names; the key loaded from memory only."""

from __future__ import annotations

import ssl
from dataclasses import replace

import pytest

from andromede.compute.driver_network import InstanceFirewall
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
