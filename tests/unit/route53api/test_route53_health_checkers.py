"""Decision 0285's checkers against real endpoints on the loopback (allowed by the test's
allow-list, as ``route53_health_check_allow_cidrs`` would): HTTP statuses, the string match
in the first 5,120 bytes, the Host header, TCP connects, timeouts; internal addresses refused
without the allow-list; rounds claimed by one gateway, ``FailureThreshold`` flipping the
status, CALCULATED and CLOUDWATCH_METRIC checks, the ``AWS/Route53`` metrics; and the status
read back through botocore (GetHealthCheckStatus, GetHealthCheckLastFailureReason)."""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import socket
from collections.abc import AsyncIterator, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from andromede.route53.health_checker import CheckerIdentity, HealthCheckers
from andromede.route53.health_lookup import HealthStatuses
from andromede.route53.health_memory import MemoryHealthCheckStore
from andromede.route53.health_model import AlarmIdentifier, HealthCheckConfig, completed
from andromede.route53.health_probe import SEARCH_BYTES, Prober
from andromede.route53.health_service import HealthCheckService, HealthLimits
from support.route53app import route53_world
from support.smtp_sink import self_signed

LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"),)


@dataclass
class Endpoint:
    """A real HTTP server on 127.0.0.1 answering ``status`` and ``body``; ``hang`` leaves
    requests unanswered; the request heads it read are kept."""

    status: int = 200
    body: bytes = b"all good"
    hang: bool = False
    heads: list[bytes] = field(default_factory=list)
    port: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            self.heads.append(await reader.readuntil(b"\r\n\r\n"))
            if self.hang:
                await asyncio.sleep(1)
            writer.write(
                f"HTTP/1.1 {self.status} X\r\nContent-Length: {len(self.body)}\r\n"
                "Connection: close\r\n\r\n".encode()
                + self.body
            )
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def endpoint() -> AsyncIterator[Endpoint]:
    served = Endpoint()
    server = await asyncio.start_server(served.handle, "127.0.0.1", 0)
    served.port = server.sockets[0].getsockname()[1]
    async with server:
        yield served
        server.close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Sink:
    points: list[tuple[str, str, str, tuple[tuple[str, str], ...], float]] = field(
        default_factory=list
    )

    def record(
        self,
        tenant_id: str,
        namespace: str,
        name: str,
        dimensions: Sequence[tuple[str, str]],
        value: float,
        unit: str = "None",
        *,
        resolution: int = 60,
    ) -> None:
        self.points.append((tenant_id, namespace, name, tuple(dimensions), value))

    def values(self, name: str, check_id: str) -> list[float]:
        return [
            p[4] for p in self.points if p[2] == name and p[3] == (("HealthCheckId", check_id),)
        ]


def http(port: int, **fields: object) -> HealthCheckConfig:
    return HealthCheckConfig(type="HTTP", ip_address="127.0.0.1", port=port, **fields)  # type: ignore[arg-type]


async def test_http_statuses_string_match_and_host(endpoint: Endpoint) -> None:
    prober = Prober(LOOPBACK, timeout=2.0)
    try:
        ok = await prober.probe(http(endpoint.port, fqdn="www.example.com", resource_path="/up"))
        assert ok.healthy and ok.report == "Success: HTTP Status Code 200, OK"
        head = endpoint.heads[-1].decode()
        assert (
            head.startswith("GET /up HTTP/1.1")
            and f"host: www.example.com:{endpoint.port}" in head.lower()
        )
        endpoint.status = 302
        assert (await prober.probe(http(endpoint.port))).healthy
        endpoint.status = 503
        failed = await prober.probe(http(endpoint.port))
        assert not failed.healthy
        assert (
            failed.report
            == "Failure: HTTP Status Code 503, Service Unavailable. Resolved IP: 127.0.0.1"
        )
        endpoint.status, endpoint.body = 200, b"x" * 6000 + b"needle"
        late = HealthCheckConfig(
            type="HTTP_STR_MATCH",
            ip_address="127.0.0.1",
            port=endpoint.port,
            search_string="needle",
        )
        assert not (await prober.probe(late)).healthy  # past the first 5,120 bytes
        endpoint.body = b"x" * (SEARCH_BYTES - 6) + b"needle" + b"y" * 100
        assert (await prober.probe(late)).healthy
    finally:
        await prober.close()


async def test_tcp_timeouts_and_the_address_guard(endpoint: Endpoint) -> None:
    prober = Prober(LOOPBACK, timeout=0.3)
    tcp = HealthCheckConfig(type="TCP", ip_address="127.0.0.1", port=endpoint.port)
    try:
        assert (await prober.probe(tcp)).report == "Success: TCP connection established."
        shut = await prober.probe(
            HealthCheckConfig(type="TCP", ip_address="127.0.0.1", port=closed_port())
        )
        assert not shut.healthy and shut.report.startswith("Failure: TCP connection failed")
        endpoint.hang = True
        slow = await prober.probe(http(endpoint.port))
        assert not slow.healthy and slow.report.startswith("Failure: Connection timed out")
    finally:
        await prober.close()
    guarded = Prober((), timeout=0.3)
    try:
        for config in (tcp, HealthCheckConfig(type="HTTP", fqdn="localhost", port=endpoint.port)):
            refused = await guarded.probe(config)
            assert not refused.healthy
            assert "route53_health_check_allow_cidrs" in refused.report
        assert len(endpoint.heads) == 1  # the refused probes never reached it
    finally:
        await guarded.close()


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_rounds_claimed_once_threshold_flips_and_metrics(endpoint: Endpoint) -> None:
    store = MemoryHealthCheckStore()
    clock = Clock()
    service = HealthCheckService(store, HealthLimits(allowed=LOOPBACK), clock=clock)
    check = await service.create(
        "111111111111", "r", http(endpoint.port, failure_threshold=2, request_interval=10)
    )
    sink = Sink()
    probers = [Prober(LOOPBACK, timeout=1.0) for _ in range(2)]
    gateways = [
        HealthCheckers(
            store, p, CheckerIdentity("eu-fr-1", f"10.0.0.{n}"), metrics=sink, clock=clock
        )
        for n, p in enumerate(probers)
    ]
    try:
        ran = await asyncio.gather(*(g.run_round() for g in gateways))
        assert sorted(ran) == [0, 1]  # one gateway a check a round
        assert await service.healthy(check.health_check_id) is True
        assert sum(await asyncio.gather(*(g.run_round() for g in gateways))) == 0  # not due
        endpoint.status = 500
        for _ in range(2):
            clock.now += 10
            assert sum(await asyncio.gather(*(g.run_round() for g in gateways))) == 1
            if _ == 0:  # one failure of two: still healthy
                assert await service.healthy(check.health_check_id) is True
        assert await service.healthy(check.health_check_id) is False
        assert sink.values("HealthCheckStatus", check.health_check_id) == [1.0, 1.0, 0.0]
        shares = sink.values("HealthCheckPercentageHealthy", check.health_check_id)
        assert shares[-1] < 100.0
        assert {p[1] for p in sink.points} == {"AWS/Route53"}
        # Inverted: the failing endpoint is healthy to DNS; Disabled: always healthy.
        inverted = await service.update(
            "111111111111", check.health_check_id, None, {"inverted": True}, []
        )
        assert inverted.reported_healthy() and await service.healthy(check.health_check_id)
        await service.update(
            "111111111111", check.health_check_id, None, {"inverted": False, "disabled": True}, []
        )
        assert await service.healthy(check.health_check_id) is True
        assert await service.healthy("never-made") is True
    finally:
        for prober in probers:
            await prober.close()


async def test_calculated_and_cloudwatch_metric_checks(endpoint: Endpoint) -> None:
    store = MemoryHealthCheckStore()
    clock = Clock()
    service = HealthCheckService(store, HealthLimits(allowed=LOOPBACK), clock=clock)
    tenant = "111111111111"
    up = await service.create(tenant, "up", http(endpoint.port, failure_threshold=1))
    down = await service.create(
        tenant, "down", HealthCheckConfig(type="TCP", ip_address="127.0.0.1", port=closed_port())
    )
    both = await service.create(
        tenant, "both", HealthCheckConfig(type="CALCULATED", health_threshold=2,
                                          children=(up.health_check_id, down.health_check_id)),
    )  # fmt: skip
    one = await service.create(
        tenant, "one", HealthCheckConfig(type="CALCULATED", health_threshold=1,
                                         children=(up.health_check_id, down.health_check_id)),
    )  # fmt: skip
    states = {"cpu": "OK"}

    async def alarm_state(tenant_id: str, region: str, name: str) -> str | None:
        return states.get(name) if region == "eu-fr-1" else None

    metric = await service.create(
        tenant,
        "m",
        HealthCheckConfig(type="CLOUDWATCH_METRIC", alarm=AlarmIdentifier("eu-fr-1", "cpu")),
    )
    gone = await service.create(
        tenant, "g", HealthCheckConfig(type="CLOUDWATCH_METRIC", insufficient_data="Unhealthy",
                                       alarm=AlarmIdentifier("eu-fr-1", "nothing")),
    )  # fmt: skip
    sink = Sink()
    prober = Prober(LOOPBACK, timeout=1.0)
    checkers = HealthCheckers(
        store, prober, CheckerIdentity("eu-fr-1", "10.0.0.1"), metrics=sink,
        alarm_state=alarm_state, clock=clock,
    )  # fmt: skip
    try:
        assert await checkers.run_round() == 6
        assert await service.healthy(up.health_check_id) is True
        assert await service.healthy(down.health_check_id) is False
        assert await service.healthy(both.health_check_id) is False
        assert await service.healthy(one.health_check_id) is True
        assert sink.values("ChildHealthCheckHealthyCount", one.health_check_id) == [1.0]
        assert await service.healthy(metric.health_check_id) is True
        assert await service.healthy(gone.health_check_id) is False
        states["cpu"] = "ALARM"
        clock.now += 30
        await checkers.run_round()
        assert await service.healthy(metric.health_check_id) is False
        states["cpu"] = "INSUFFICIENT_DATA"  # LastKnownStatus: the status stays
        clock.now += 30
        await checkers.run_round()
        assert await service.healthy(metric.health_check_id) is False
    finally:
        await prober.close()


async def test_status_read_back_through_botocore(tmp_path: Path, endpoint: Endpoint) -> None:
    async for world in route53_world(tmp_path):
        store = MemoryHealthCheckStore()
        world.app.health = HealthCheckService(store, HealthLimits(allowed=LOOPBACK))
        made = await world.client(
            "CreateHealthCheck",
            CallerReference="b",
            HealthCheckConfig={"Type": "HTTP", "IPAddress": "127.0.0.1", "Port": endpoint.port,
                               "FailureThreshold": 1},
        )  # fmt: skip
        check_id = made["HealthCheck"]["Id"]
        clock = Clock()
        prober = Prober(LOOPBACK, timeout=1.0)
        checkers = HealthCheckers(
            store, prober, CheckerIdentity("eu-fr-1", "10.0.0.7"), clock=clock
        )
        try:
            await checkers.run_round()
            endpoint.status = 404
            clock.now += 30
            await checkers.run_round()
        finally:
            await prober.close()
        status = await world.client("GetHealthCheckStatus", HealthCheckId=check_id)
        [seen] = status["HealthCheckObservations"]
        assert seen["Region"] == "eu-fr-1" and seen["IPAddress"] == "10.0.0.7"
        assert seen["StatusReport"]["Status"].startswith("Failure: HTTP Status Code 404, Not Found")
        failure = await world.client("GetHealthCheckLastFailureReason", HealthCheckId=check_id)
        assert failure["HealthCheckObservations"][0]["StatusReport"] == seen["StatusReport"]
        assert world.app.health is not None
        assert await world.app.health.healthy(check_id) is False


async def test_the_record_sides_lookup_and_flips(endpoint: Endpoint) -> None:
    store = MemoryHealthCheckStore()
    clock = Clock()
    service = HealthCheckService(store, HealthLimits(allowed=LOOPBACK), clock=clock)
    tenant = "111111111111"
    check = await service.create(tenant, "f", http(endpoint.port, failure_threshold=1))
    other = await service.create("222222222222", "o", http(endpoint.port, failure_threshold=1))
    statuses = HealthStatuses(store)
    told: list[tuple[str, list[str]]] = []

    async def flipped(tenant_id: str, ids: Collection[str]) -> None:
        told.append((tenant_id, sorted(ids)))

    prober = Prober(LOOPBACK, timeout=1.0)
    checkers = HealthCheckers(store, prober, CheckerIdentity("eu-fr-1", "10.0.0.1"), clock=clock)
    checkers.flipped = service.flipped = flipped
    ids = [check.health_check_id, other.health_check_id, "unknown"]
    try:
        assert await statuses.healthy(tenant, ids) == {}  # not checked yet: left out
        await checkers.run_round()
        assert await statuses.healthy(tenant, ids) == {check.health_check_id: True}
        assert told == []  # healthy before its first result, healthy after it
        endpoint.status = 500
        clock.now += 30
        await checkers.run_round()
        assert await statuses.healthy(tenant, ids) == {check.health_check_id: False}
        assert told == [
            (tenant, [check.health_check_id]),
            ("222222222222", [other.health_check_id]),
        ]
        told.clear()
        await service.update(tenant, check.health_check_id, None, {"inverted": True}, [])
        assert told == [(tenant, [check.health_check_id])]
        told.clear()
        await service.update(tenant, check.health_check_id, None, {"inverted": False}, [])
        assert told == [(tenant, [check.health_check_id])]
        told.clear()
        await service.delete(tenant, check.health_check_id)  # gone: healthy again
        assert told == [(tenant, [check.health_check_id])]
        assert await statuses.healthy(tenant, ids) == {}
    finally:
        await prober.close()


async def test_https_sends_sni_when_asked_and_does_not_check_the_certificate() -> None:
    context, _ = self_signed()  # a certificate for 127.0.0.1 no client trusts
    names: list[str | None] = []
    context.sni_callback = lambda _sock, name, _ctx: names.append(name)  # type: ignore[assignment]
    served = Endpoint(body=b"secure ok")
    server = await asyncio.start_server(served.handle, "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    prober = Prober(LOOPBACK, timeout=2.0)
    try:
        async with server:
            config = completed(
                HealthCheckConfig(type="HTTPS_STR_MATCH", ip_address="127.0.0.1", port=port,
                                  fqdn="www.example.com", search_string="secure")
            )  # fmt: skip
            assert config.enable_sni is True
            result = await prober.probe(config)
            assert result.healthy, result.report
            assert [name for name, _ in result.latency] == [
                "ConnectionTime", "SSLHandshakeTime", "TimeToFirstByte"
            ]  # fmt: skip
            assert all(ms >= 0 for _, ms in result.latency)
            assert names == ["www.example.com"]
            assert b"host: www.example.com:" in served.heads[-1].lower()
            await prober.probe(dataclasses.replace(config, enable_sni=False))
            assert names[-1] is None
            server.close()
    finally:
        await prober.close()


async def test_a_round_claims_at_most_its_batch() -> None:
    store = MemoryHealthCheckStore()
    clock = Clock()
    service = HealthCheckService(store, HealthLimits(allowed=LOOPBACK), clock=clock)
    for n in range(3):  # disabled: counted and claimed, never probed
        await service.create("111111111111", f"b{n}", http(closed_port(), disabled=True))
    prober = Prober(LOOPBACK, timeout=0.5)
    checkers = HealthCheckers(
        store, prober, CheckerIdentity("eu-fr-1", "10.0.0.1"), batch=2, clock=clock
    )
    try:
        assert [await checkers.run_round() for _ in range(3)] == [2, 1, 0]
    finally:
        await prober.close()


async def test_measure_latency_puts_the_probes_times(endpoint: Endpoint) -> None:
    store = MemoryHealthCheckStore()
    service = HealthCheckService(store, HealthLimits(allowed=LOOPBACK))
    timed = await service.create("111111111111", "t", http(endpoint.port, measure_latency=True))
    untimed = await service.create("111111111111", "u", http(endpoint.port))
    sink = Sink()
    prober = Prober(LOOPBACK, timeout=1.0)
    checkers = HealthCheckers(store, prober, CheckerIdentity("eu-fr-1", "10.0.0.1"), metrics=sink)
    try:
        assert await checkers.run_round() == 2
    finally:
        await prober.close()
    latency = [
        (p[2], p[3][0][1]) for p in sink.points if p[3] == (("HealthCheckId", p[3][0][1]),
                                                             ("Region", "eu-fr-1"))
    ]  # fmt: skip
    assert sorted(latency) == [
        ("ConnectionTime", timed.health_check_id), ("TimeToFirstByte", timed.health_check_id)
    ]  # fmt: skip
    assert untimed.health_check_id not in {check for _, check in latency}
