"""The HTTP proxy's access log lines (decision 0264) over real sockets on 127.0.0.1: none while
the load balancer's logs are off; one per request once on — a forwarded one with its target,
its group's ARN, the statuses, the bytes both ways, the request line, the user agent and the
trace id the target was given; a fixed response and a redirect with their actions, the
default rule's priority 0 and a rule's own, AWS's own 503 with no target; the lines taken
once by the host's report; a host's report round-trips them through the agents' wire."""

from __future__ import annotations

import asyncio
import re

import httpx

from andromede.compute.driver_balancing import AccessLogLines, BalancerReport
from andromede.hypervisor.http_access_log import MAX_BUFFERED_LINES, AccessLogBuffer
from andromede.hypervisor.http_proxies import HttpListenerProxy, HttpRouting
from andromede.loadbalancing.http_rules import Condition, FixedResponse, Forward, Redirect, Rule
from unit.hypervisor.test_http_proxies import Target, default

GROUP_ARN = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web/0123abcd"


async def test_one_line_per_request_once_the_logs_are_on() -> None:
    target = await Target("t").start()
    rules = (
        Rule("r1", 5, (Condition("path-pattern", ("/fixed",)),),
             FixedResponse("418", "text/plain", "teapot")),
        Rule("r2", 6, (Condition("path-pattern", ("/old",)),),
             Redirect("HTTP_302", path="/new")),
        Rule("r3", 7, (Condition("path-pattern", ("/none",)),), Forward((("empty", 1),))),
        default(Forward((("web", 1),))),
    )  # fmt: skip
    routing = HttpRouting("l1", 80, rules, {"web": (target.address,), "empty": ()})
    running = HttpListenerProxy(routing)
    port = await running.start("127.0.0.1", 0)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            await client.get("/")
            assert running.access_log.drain() == ()  # off: nothing written
            running.update(
                HttpRouting(
                    "l1", 80, rules, routing.groups, access_log="app/shop/50dc6c495c0c9188",
                    group_arns={"web": GROUP_ARN},
                )
            )  # fmt: skip
            answer = await client.post(
                "/items?x=1", content=b"0123456789", headers={"User-Agent": 'curl/8 "x"'}
            )
            assert answer.status_code == 200
            await client.get("/fixed")
            await client.get("/old")
            await client.get("/none")
        lines = running.access_log.drain()
        assert running.access_log.drain() == ()  # taken once
        forwarded, fixed, moved, unavailable = (line.split(" ") for line in lines)
        assert forwarded[0] == "http"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", forwarded[1])
        assert forwarded[2] == "app/shop/50dc6c495c0c9188"
        assert forwarded[3].startswith("127.0.0.1:")
        assert forwarded[4] == f"127.0.0.1:{target.port}"
        assert all(re.fullmatch(r"\d+\.\d{3}", value) for value in forwarded[5:8])
        assert forwarded[8:10] == ["200", "200"]
        assert int(forwarded[10]) > 10 and int(forwarded[11]) > len(answer.content)
        assert forwarded[12:15] == ['"POST', "http://127.0.0.1:80/items?x=1", 'HTTP/1.1"']
        assert forwarded[15] == '"curl/8'
        assert forwarded[16] == '\\x22x\\x22"'  # the client's quotes cannot end the field
        assert forwarded[19] == GROUP_ARN
        given = dict(target.seen[-1].headers)[b"x-amzn-trace-id"].decode()
        assert forwarded[20] == f'"{given}"'
        assert forwarded[23] == "0"  # the default rule
        assert forwarded[25:27] == ['"forward"', '"-"']
        assert forwarded[28:30] == [f'"127.0.0.1:{target.port}"', '"200"']
        assert forwarded[32].startswith("TID_")
        # httpx's own user agent is one word: the fields after it come one earlier.
        assert (fixed[4], fixed[8], fixed[9], fixed[22], fixed[24]) == (
            "-", "418", "-", "5", '"fixed-response"',
        )  # fmt: skip
        assert fixed[5:8] == ["-1", "-1", "-1"]
        assert (moved[8], moved[22], moved[24]) == ("302", "6", '"redirect"')
        assert moved[25] == '"http://127.0.0.1/new"'  # the Location given
        assert (unavailable[4], unavailable[8], unavailable[18]) == ("-", "503", "-")
        # One client connection: one connection trace id.
        assert len({line.split(" ")[-1] for line in lines}) == 1
    finally:
        await running.close()
        await target.close()


def test_the_buffer_keeps_the_newest_lines() -> None:
    buffer = AccessLogBuffer()
    for index in range(MAX_BUFFERED_LINES + 2):
        buffer.add(str(index))
    taken = buffer.drain()
    assert len(taken) == MAX_BUFFERED_LINES and taken[0] == "2"
    for index in range(5):
        buffer.add(str(index))
    buffer.bound(3)  # the setting changed: the newest kept
    assert buffer.drain() == ("2", "3", "4")


def test_the_bound_is_the_setting_handed_with_the_listener() -> None:
    import pydantic
    import pytest

    from andromede.hypervisor.balancer_host import http_settings
    from andromede.hypervisor.http_listeners import routing_of
    from andromede.loadbalancing.application import HttpSettings
    from andromede.loadbalancing.model import ForwardingView
    from andromede.settings import Settings
    from andromede.wiring.load_balancer_hosts import balanced_http

    assert Settings().elb_access_log_max_buffered_lines == 100000
    with pytest.raises(pydantic.ValidationError):
        Settings(elb_access_log_max_buffered_lines=10)
    handed = balanced_http(
        HttpSettings(rules=(default(Forward((("g", 1),))),), access_log_max_lines=2000)
    )
    view = ForwardingView("l1", "vpc-1", ("10.0.0.5",), 80, http=http_settings(handed))
    _, limits = routing_of(view)
    assert limits.access_log_max_lines == 2000
    proxy = HttpListenerProxy(HttpRouting("l1", 80, ()), limits)
    assert proxy.access_log.lines.maxlen == 2000


def test_a_report_carries_the_lines_over_the_agents_wire() -> None:
    import json

    from andromede.hypervisor.wire import decode, encode

    report = BalancerReport(access_logs=(AccessLogLines("vpc-1", "10.0.0.5", 80, ("a b", "c")),))
    assert decode(BalancerReport, json.loads(json.dumps(encode(report)))) == report
    assert "access_logs" not in encode(BalancerReport())  # an older gateway reads on


async def test_an_https_line_names_the_sni_domain_and_the_certificate_presented() -> None:
    """Decision 0269: ``domain_name`` is the client's SNI name when a certificate's names
    matched it (``-`` when the default was presented for want of one, or without SNI), and
    ``chosen_cert_arn`` the ARN of the certificate presented; a GET with a zero length is
    classified as AWS's desync mitigation does."""
    import shlex
    import socket
    import ssl

    from andromede.hypervisor.tls_terminators import sni_context
    from andromede.loadbalancing.certificates import CertificateMaterial
    from andromede.loadbalancing.tls import TlsSettings
    from support.tls_certificates import TestCa

    ca = TestCa()
    issued = {"arn:default": ca.issue("www.example.test"), "arn:api": ca.issue("api.example.test")}

    async def material(tenant_id: str, arn: str) -> CertificateMaterial:
        return CertificateMaterial(arn, issued[arn].body, "", issued[arn].key.encode())

    context = await sni_context("1", TlsSettings(("arn:default", "arn:api")), material)
    rules = (default(FixedResponse("200", "text/plain", "ok")),)
    routing = HttpRouting(
        "l1", 443, rules, protocol="HTTPS", access_log="app/shop/50dc6c495c0c9188"
    )
    running = HttpListenerProxy(routing)
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    listening.listen()
    port = listening.getsockname()[1]
    await running.serve_socket(listening, context)
    try:
        for name in ("api.example.test", "other.example.test", ""):
            client = ssl.create_default_context(cadata=ca.pem)
            client.check_hostname = False
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", port, ssl=client, server_hostname=name
            )
            length = b"Content-Length: 0\r\n" if not name else b""  # a desync's Acceptable
            writer.write(
                b"GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: t\r\nConnection: close\r\n"
                + length
                + b"\r\n"
            )
            await writer.drain()
            assert (await reader.read()).startswith(b"HTTP/1.1 200")
            writer.close()
        fields = [shlex.split(line) for line in running.access_log.drain()]
        assert [f[0] for f in fields] == ["https"] * 3
        assert [(f[18], f[19]) for f in fields] == [
            ("api.example.test", "arn:api"),
            ("-", "arn:default"),  # no certificate's names matched: the default's
            ("-", "arn:default"),  # no SNI
        ]
        assert all(f[14] != "-" and f[15].startswith("TLSv1.") for f in fields)
        assert running.counts.non_compliant == 1  # decision 0287's metric
        assert [(f[27], f[28]) for f in fields] == [
            ("-", "-"),
            ("-", "-"),
            ("Acceptable", "GetHeadZeroContentLength"),
        ]
    finally:
        await running.close()


async def test_a_client_that_left_before_the_answer_is_logged_460() -> None:
    """Decision 0287: AWS's 460 — the client closed its connection while the target worked;
    nothing is relayed, the line says 460 (an ELB 4XX)."""
    target = await Target("t").start()
    target.slow = 0.5
    routing = HttpRouting(
        "l1", 80, (default(Forward((("web", 1),))),), {"web": (target.address,)},
        access_log="app/shop/50dc6c495c0c9188",
    )  # fmt: skip
    running = HttpListenerProxy(routing)
    port = await running.start("127.0.0.1", 0)
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /slow HTTP/1.1\r\nHost: x\r\nUser-Agent: t\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(0.1)
        writer.close()  # gone before the answer
        for _ in range(50):
            await asyncio.sleep(0.05)
            if running.access_log.lines:
                break
        (line,) = running.access_log.drain()
        fields = line.split(" ")
        assert (fields[8], fields[9]) == ("460", "200")  # the target did answer, too late
        assert running.counts.elb[2] == 1
    finally:
        await running.close()
        await target.close()
