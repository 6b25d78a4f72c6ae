"""Application Load Balancers' HTTP listeners handed to the hosts (decision 0216): the
gateway's view of an HTTP listener (its rules, groups and attributes), carried over the
hypervisor port's wire and read back by the host, marked for the router's input instead of
translated, and served by the host's HTTP proxies (the namespace's thread run in place, on
loopback), the rules applied to real requests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from andromede.compute.driver_balancing import BalancedListener, RequestCounter
from andromede.hypervisor import http_listeners
from andromede.hypervisor.balancer_host import forwarding_view
from andromede.hypervisor.load_balancer_rules import TERMINATED, render_load_balancers
from andromede.hypervisor.wire import decode, encode
from andromede.load_balancer_metrics import APPLICATION_ELB, health_points, request_values
from andromede.loadbalancing.application import HttpSettings
from andromede.wiring.load_balancer_hosts import balanced_listener
from support.elbapp import elb_world


async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    request = await reader.readuntil(b"\r\n\r\n")
    path = request.split(b" ")[1]
    body = b"target " + path
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    await writer.drain()
    writer.close()


async def test_an_http_listener_reaches_the_host_and_its_proxy_applies_the_rules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with elb_world(tmp_path) as world:
        group = await world.ec2.root.call(
            "CreateSecurityGroup", GroupName="alb", Description="alb", VpcId=world.vpc_id
        )
        lb = await world.load_balancer(
            "shop", Type="application", Subnets=world.subnets[:1],
            SecurityGroups=[group["GroupId"]],
        )  # fmt: skip
        await world.client.call(
            "ModifyLoadBalancerAttributes", LoadBalancerArn=lb["LoadBalancerArn"],
            Attributes=[{"Key": "routing.http.xff_header_processing.mode", "Value": "remove"}],
        )  # fmt: skip
        api = (await world.target_group("api", Protocol="HTTP", Port=8080, TargetType="ip"))[
            "TargetGroupArn"
        ]
        await world.client.call(
            "RegisterTargets", TargetGroupArn=api, Targets=[{"Id": "10.20.1.7"}]
        )
        listener = (
            await world.client.call(
                "CreateListener", LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP",
                Port=80, DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {
                    "StatusCode": "404", "ContentType": "text/plain", "MessageBody": "none"}}],
            )
        )["Listeners"][0]["ListenerArn"]  # fmt: skip
        await world.client.call(
            "CreateRule", ListenerArn=listener, Priority=3,
            Conditions=[{"Field": "path-pattern", "Values": ["/api/*"]}],
            Actions=[{"Type": "forward", "TargetGroupArn": api}],
        )  # fmt: skip
        (view,) = await world.service.forwarding_views()
        assert view.http is not None and view.tls is None
        assert [r.priority for r in view.http.rules] == [3, None]
        assert view.http.groups[0][1] == (("10.20.1.7", 8080),)  # initial: fail-open
        assert view.http.xff_mode == "remove"
        assert view.lb_dimension.startswith("app/shop/")
        assert view.allowed is not None  # its security groups judge its clients
        # AWS/ApplicationELB's host counts: the rule's group, behind app/shop/….
        (count,) = [c for c in await world.service.health_counts() if not c.zone]
        assert count.load_balancer.startswith("app/shop/") and (count.healthy, count.unhealthy) == (
            0,
            0,
        )
        (point, _) = health_points([count], 60)
        assert point.series.namespace == APPLICATION_ELB
        # Over the port's wire and back: the host reads the same rules.
        carried = decode(BalancedListener, encode(balanced_listener(view)))
        told = forwarding_view(carried)
        assert told.http == view.http
        # The router marks its connections for the proxy, never translates them.
        script = render_load_balancers([told])
        assert f"ct mark set {TERMINATED}" in script and "dnat" not in script

    target = await asyncio.start_server(_answer, "127.0.0.1", 0)
    target_port = int(target.sockets[0].getsockname()[1])

    async def in_place(namespace: str, work: Callable[[], int]) -> int:
        return work()

    monkeypatch.setattr(http_listeners, "_in_netns", in_place)
    assert told.http is not None
    loopback = replace(
        told,
        addresses=("127.0.0.1",),
        port=_free_port(),
        http=replace(
            told.http,
            groups=tuple((g, (("127.0.0.1", target_port),)) for g, _ in told.http.groups),
        ),
    )
    view_on_loopback = replace(
        loopback, tenant_id=view.tenant_id, lb_dimension=view.lb_dimension, zones=()
    )
    proxies = http_listeners.HttpListeners(lambda vpc: "in-place")
    try:
        await proxies.apply([loopback])
        assert proxies.listening == {(loopback.vpc_id, loopback.listener_id)}
        url = f"http://127.0.0.1:{loopback.port}"
        async with httpx.AsyncClient(base_url=url) as client:
            assert (await client.get("/api/items")).text == "target /api/items"
            missing = await client.get("/other")
            assert (missing.status_code, missing.text) == (404, "none")
            # New rules reach the running proxy without a restart.
            assert isinstance(loopback.http, HttpSettings)
            await proxies.apply(
                [replace(loopback, http=replace(loopback.http, rules=loopback.http.rules[1:]))]
            )
            assert (await client.get("/api/items")).status_code == 404
        # What the proxy answered, for AWS/ApplicationELB: 3 requests, 1 target 2XX, 2 ELB 4XX.
        ((key, counted),) = proxies.counters().items()
        assert key == (loopback.vpc_id, "127.0.0.1", loopback.port)
        assert counted[:5] == (3, 0, 0, 2, 0) and counted[9:13] == (1, 0, 0, 0)
        assert counted[14] == 1
        reported = RequestCounter(
            *key, requests=counted[0], elb=counted[1:5], elb_5xx=counted[5:9],
            target=counted[9:13], target_time_ms=counted[13], target_answers=counted[14],
        )  # fmt: skip
        values = {
            (v.name, v.dimensions): v.value for v in request_values([view_on_loopback], [reported])
        }
        lb_dimension = (("LoadBalancer", view.lb_dimension),)
        assert values[("RequestCount", lb_dimension)] == 3
        assert values[("HTTPCode_ELB_4XX_Count", lb_dimension)] == 2
        assert values[("HTTPCode_Target_2XX_Count", lb_dimension)] == 1
        assert ("HTTPCode_ELB_5XX_Count", lb_dimension) not in values  # 0: not reported
        assert counted[15:] == (0, 0)  # no TLS here, every request compliant
        # Decision 0287: failed handshakes (a report without requests too) and desync's count.
        failing = replace(reported, requests=0, client_tls_errors=2, non_compliant=1)
        values = {
            (v.name, v.dimensions): v.value for v in request_values([view_on_loopback], [failing])
        }
        assert values[("ClientTLSNegotiationErrorCount", lb_dimension)] == 2
        assert values[("DesyncMitigationMode_NonCompliant_Request_Count", lb_dimension)] == 1
        assert ("RequestCount", lb_dimension) not in values
        assert 0 <= values[("TargetResponseTime", lb_dimension)] < 5
        await proxies.apply([])
        assert proxies.listening == set()
    finally:
        await proxies.close()
        target.close()


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_an_https_listener_presents_its_certificate(monkeypatch: pytest.MonkeyPatch) -> None:
    """An HTTPS listener's proxy speaks TLS with its certificate (the TLS terminators' SNI
    choice) and tells the target ``X-Forwarded-Proto: https``."""
    import ssl

    from andromede.hypervisor.tls_terminators import TlsTerminators, sni_context
    from andromede.loadbalancing.certificates import CertificateMaterial
    from andromede.loadbalancing.http_rules import Forward, Rule
    from andromede.loadbalancing.model import ForwardingView
    from andromede.loadbalancing.tls import TlsSettings
    from support.tls_certificates import TestCa

    seen: list[bytes] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        writer.close()

    async def in_place(namespace: str, work: Callable[[], int]) -> int:
        return work()

    monkeypatch.setattr(http_listeners, "_in_netns", in_place)
    ca = TestCa()
    issued = ca.issue("www.example.test")

    async def material(tenant_id: str, arn: str) -> CertificateMaterial:
        return CertificateMaterial(arn, issued.body, "", issued.key.encode())

    target = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = int(target.sockets[0].getsockname()[1])
    tls = TlsSettings(certificates=("arn:www",), ssl_policy="ELBSecurityPolicy-2016-08")
    view = ForwardingView(
        "l-https", "vpc-1", ("127.0.0.1",), _free_port(), tenant_id="1", tls=tls,
        http=HttpSettings(
            rules=(Rule("d", None, (), Forward((("g", 1),))),),
            groups=(("g", (("127.0.0.1", port),)),), protocol="HTTPS",
        ),
    )  # fmt: skip

    async def context_of(listener: ForwardingView) -> ssl.SSLContext:
        assert listener.tls is not None
        return await sni_context(listener.tenant_id, listener.tls, material)

    proxies = http_listeners.HttpListeners(lambda vpc: "in-place", context_of)
    client = ssl.create_default_context(cadata=ca.pem)
    try:
        await proxies.apply([view])
        url = f"https://127.0.0.1:{view.port}"
        transport = httpx.AsyncHTTPTransport(verify=client)
        async with httpx.AsyncClient(transport=transport) as https:
            answered = await https.get(url, extensions={"sni_hostname": "www.example.test"})
        assert answered.text == "ok"
        assert b"x-forwarded-proto: https" in seen[0].lower()
        assert f"x-forwarded-port: {view.port}".encode() in seen[0].lower()
        # Its TLS is the proxy's: the NLB's terminators leave it alone.
        terminators = TlsTerminators(lambda vpc: "in-place", material)
        await terminators.apply([view])
        assert terminators.listening == set()
        # Without its certificates (no context), an HTTPS listener is not started.
        bare = http_listeners.HttpListeners(lambda vpc: "in-place")
        await bare.apply([view])
        assert bare.listening == set()
    finally:
        await proxies.close()
        target.close()
