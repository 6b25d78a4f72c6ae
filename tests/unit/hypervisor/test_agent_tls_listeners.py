"""TLS listeners on hosts behind an agent (decision 0210): a TLS listener reaches the host
whole over the agent's socket — its certificates with their keys, its policies, the gateway's
bounds —, and its private key is in no ``repr``, no log of either side, no error a malformed
listener or a key the host cannot load gives back. The gateway's side opens the certificates
(:class:`ListenerCertificates`) once while listeners present them, tries one it could not
open again only after a while, and leaves that listener out of the hosts meanwhile. Session
51 later: the keys go only to the hosts holding the listener's VPC router — a host that newly
holds it gets them in the same round, one that no longer does is told the listener without
them —, and a host keeps serving a listener told it without its keys until they come again."""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from andromede.compute.driver_balancing import BalancedListener, BalancedTls, ServedCertificate
from andromede.compute.driver_memory import MemoryDriver
from andromede.compute.errors import HostUnreachable
from andromede.hypervisor.agent import agent_ready, serve_agent
from andromede.hypervisor.balancer_host import HostBalancers
from andromede.hypervisor.remote import RemoteDriver
from andromede.hypervisor.wire import encode
from andromede.loadbalancing.certificates import CertificateMaterial
from andromede.loadbalancing.errors import NotFound
from andromede.loadbalancing.model import ForwardingView
from andromede.loadbalancing.target_groups import Probe
from andromede.loadbalancing.tls import TlsSettings
from andromede.wiring.load_balancer_hosts import RETRY_AFTER, ListenerCertificates, drive_hosts
from support.tls_certificates import TestCa
from unit.hypervisor.test_agent_balancers import run_in

TENANT = "111111111111"
WWW = f"arn:aws:iam::{TENANT}:server-certificate/www"
GONE = f"arn:aws:iam::{TENANT}:server-certificate/gone"
ISSUED = TestCa().issue("www.example.test")
OTHER_KEY = TestCa().issue("www.example.test").key  # a key that is not the certificate's
SERVED = ServedCertificate(WWW, ISSUED.body, "", ISSUED.key.encode())
SECURE = BalancedListener(
    "listener-tls", "vpc-a", ("10.0.1.200",), 443, (("10.0.1.11", 8443),),
    tls=BalancedTls((SERVED,), "ELBSecurityPolicy-TLS13-1-2-2021-06", "HTTP2Optional",
                    target_tls=True, max_connections=7, buffer_bytes=4096),
)  # fmt: skip


def secrets_of(key: str) -> list[str]:
    """What would betray ``key`` in a text: a line of its PEM, its base64 on the wire."""
    return [key.splitlines()[1], base64.b64encode(key.encode()).decode()[8:48]]


def assert_hidden(text: str, key: str = ISSUED.key) -> None:
    for secret in secrets_of(key):
        assert secret not in text


@pytest.fixture
async def agent(tmp_path: Path) -> AsyncIterator[tuple[RemoteDriver, MemoryDriver, Path]]:
    driver = MemoryDriver("host-a")
    socket_path = tmp_path / "agent" / "agent.sock"
    stop = asyncio.Event()
    task = asyncio.create_task(serve_agent(driver, socket_path, stop))
    assert await asyncio.to_thread(agent_ready, socket_path, 10.0)
    remote = RemoteDriver(socket_path, host="host-a")
    yield remote, driver, socket_path
    await remote.close()
    stop.set()
    await task


async def test_a_tls_listener_reaches_the_host_whole_and_its_key_is_shown_nowhere(
    agent: tuple[RemoteDriver, MemoryDriver, Path], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    remote, driver, _ = agent
    await remote.set_load_balancers((SECURE,))
    assert driver.balanced == (SECURE,)
    (held,) = driver.balanced
    assert held.tls is not None and held.tls.certificates[0].private_key == ISSUED.key.encode()
    assert "private_key" not in repr(SECURE)
    assert_hidden(repr(SECURE) + str(SECURE) + caplog.text)


@pytest.mark.parametrize(
    ("where", "changes"),
    [
        ("tls", {"certificates": []}),
        ("tls", {"alpn_policy": "HTTP3"}),
        ("tls", {"ssl_policy": ""}),
        ("tls", {"max_connections": 0}),
        ("certificate", {"private_key": "not base64!"}),
        ("certificate", {"private_key": ""}),
        ("certificate", {"arn": ""}),
        ("certificate", {"passphrase": "x"}),
    ],
)
async def test_a_malformed_tls_listener_is_refused_naming_no_key(
    agent: tuple[RemoteDriver, MemoryDriver, Path],
    caplog: pytest.LogCaptureFixture,
    where: str,
    changes: dict[str, Any],
) -> None:
    caplog.set_level(logging.DEBUG)
    _, driver, socket_path = agent
    listener = encode(SECURE)
    if where == "tls":
        listener["tls"] |= changes
    else:
        listener["tls"]["certificates"][0] |= changes
    transport = httpx.AsyncHTTPTransport(uds=str(socket_path))
    async with httpx.AsyncClient(transport=transport, base_url="http://agent") as client:
        answer = await client.post("/v1/set_load_balancers", json={"listeners": [listener]})
    assert answer.status_code == 400
    assert answer.json()["error"] == "BadRequest"
    assert driver.balanced == ()
    assert_hidden(answer.text + caplog.text)


class NoRouters:
    """A host's routers, one per VPC, holding nothing (the terminators' namespaces are
    never entered: the certificate fails to load before)."""

    def namespace_of(self, vpc_id: str) -> str | None:
        return f"router-{vpc_id}"

    async def apply(self, views: list[ForwardingView]) -> None:
        return None

    async def counters(self) -> dict[Any, tuple[int, int]]:
        return {}

    async def active_flows(self) -> dict[Any, int]:
        return {}


async def test_a_key_the_host_cannot_load_is_logged_by_its_kind_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    host = HostBalancers(NoRouters())  # type: ignore[arg-type]
    wrong = ServedCertificate(WWW, ISSUED.body, "", OTHER_KEY.encode())
    assert SECURE.tls is not None
    listener = BalancedListener(
        SECURE.listener_id, SECURE.vpc_id, SECURE.addresses, SECURE.port, SECURE.targets,
        tls=BalancedTls((wrong,), SECURE.tls.ssl_policy),
    )  # fmt: skip
    report = await host.apply((listener,))
    assert report.routers == ("vpc-a",)
    assert host.terminating == set()
    assert "certificates could not be loaded (SSLError)" in caplog.text
    assert_hidden(caplog.text, OTHER_KEY)
    await host.close()


class Opener:
    """The load balancing service's ``certificate_material``, counting what it opens."""

    def __init__(self) -> None:
        self.opened: list[str] = []

    async def __call__(self, tenant_id: str, arn: str) -> CertificateMaterial:
        self.opened.append(arn)
        if arn != WWW:
            raise NotFound("CertificateNotFound", f"Certificate '{arn}' not found")
        return CertificateMaterial(arn, ISSUED.body, "", ISSUED.key.encode())


def view(listener_id: str, *certificates: str) -> ForwardingView:
    return ForwardingView(
        listener_id, "vpc-a", ("10.0.1.200",), 443, (("10.0.1.11", 80),), tenant_id=TENANT,
        tls=TlsSettings(certificates, alpn_policy="HTTP1Only"),
    )  # fmt: skip


async def no_record(probe: Probe, ok: bool, timed_out: bool, code: int | None) -> None:
    raise AssertionError("no probe asked")


async def test_the_gateway_opens_a_certificate_once_and_leaves_out_a_listener_it_cannot_open(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    opener, now = Opener(), [0.0]
    opened = ListenerCertificates(opener, 25, 2048, clock=lambda: now[0])
    plain = ForwardingView("listener-tcp", "vpc-a", ("10.0.1.200",), 80, (("10.0.1.11", 80),))
    views = [view("listener-ok", WWW), view("listener-gone", WWW, GONE), plain]
    host = MemoryDriver("host-a")
    await run_in(host, "i-a", "vpc-a", "10.0.1.11")  # the VPC's router is here
    for _ in range(3):
        await drive_hosts([host], views, [], no_record, certificates=opened)
        now[0] += 1.0
    # Each certificate asked once over the three rounds: the good one kept, the gone one
    # not asked again before RETRY_AFTER.
    assert sorted(opener.opened) == [GONE, WWW]
    ok, tcp = host.balanced
    assert (ok.listener_id, tcp.listener_id, tcp.tls) == ("listener-ok", "listener-tcp", None)
    assert ok.tls == BalancedTls(
        (SERVED,), "ELBSecurityPolicy-2016-08", "HTTP1Only", max_connections=25, buffer_bytes=2048
    )
    now[0] += RETRY_AFTER
    await drive_hosts([host], views, [], no_record, certificates=opened)
    assert sorted(opener.opened) == [GONE, GONE, WWW]
    # A listener gone takes its certificate's key out of the gateway's memory.
    await drive_hosts([host], [plain], [], no_record, certificates=opened)
    assert host.balanced == (tcp,)
    assert await opened.tls_of([]) == {}
    await drive_hosts([host], views[:1], [], no_record, certificates=opened)
    assert opener.opened.count(WWW) == 2
    assert "TLS certificate" in caplog.text and "(NotFound)" in caplog.text
    assert_hidden(caplog.text)


class Recording(MemoryDriver):
    """A memory host keeping every hand-over it was given, not only the last."""

    def __init__(self, host: str) -> None:
        super().__init__(host)
        self.handed: list[tuple[BalancedListener, ...]] = []

    async def set_load_balancers(self, listeners: tuple[BalancedListener, ...]) -> Any:
        self.handed.append(listeners)
        return await super().set_load_balancers(listeners)


def keys_in(handed: list[tuple[BalancedListener, ...]]) -> list[bytes]:
    return [
        certificate.private_key
        for listeners in handed
        for listener in listeners
        if listener.tls is not None
        for certificate in listener.tls.certificates
    ]


async def test_keys_go_only_to_the_hosts_holding_the_vpc_s_router(tmp_path: Path) -> None:
    """Through two real agents: host-a holds vpc-a's router, host-b none. host-b is told the
    TLS listener with its keys withheld, round after round — no key ever reaches it (nor the
    agent's wire towards it); host-a gets them at once in a second call of its first round
    (the gateway had not heard it yet), then in its one call a round. host-b starting an
    instance of the VPC gets them in that round; host-a losing its router is told the
    listener without them from the round after its answer said so."""
    a, b = Recording("host-a"), Recording("host-b")
    await run_in(a, "i-a", "vpc-a", "10.0.1.11")
    opened = ListenerCertificates(Opener(), 25, 2048)
    plain = ForwardingView("listener-tcp", "vpc-a", ("10.0.1.200",), 80, (("10.0.1.11", 80),))
    views = [view("listener-ok", WWW), plain]
    stop = asyncio.Event()
    tasks, remotes = [], []
    for host in (a, b):
        socket_path = tmp_path / host.host / "agent.sock"
        tasks.append(asyncio.create_task(serve_agent(host, socket_path, stop)))
        assert await asyncio.to_thread(agent_ready, socket_path, 10.0)
        remotes.append(RemoteDriver(socket_path, host=host.host))
    try:
        await drive_hosts(remotes, views, [], no_record, certificates=opened)
        assert len(a.handed) == 2 and len(b.handed) == 1
        first, second = a.handed
        assert first[0].tls is not None and first[0].tls.withheld
        assert second[0].tls is not None and second[0].tls.certificates == (SERVED,)
        assert keys_in(b.handed) == []
        (told,) = b.handed[0][:1]
        assert told.tls == BalancedTls(
            (), "ELBSecurityPolicy-2016-08", "HTTP1Only", max_connections=25,
            buffer_bytes=2048, withheld=True,
        )  # fmt: skip
        assert b.handed[0][1].listener_id == "listener-tcp"  # the others as ever
        await drive_hosts(remotes, views, [], no_record, certificates=opened)
        assert len(a.handed) == 3 and keys_in(a.handed[2:]) == [ISSUED.key.encode()]
        assert len(b.handed) == 2 and keys_in(b.handed) == []
        # host-b's router built: its answer names it, the keys follow in the same round.
        await run_in(b, "i-b", "vpc-a", "10.0.1.12")
        await drive_hosts(remotes, views, [], no_record, certificates=opened)
        assert len(b.handed) == 4 and keys_in(b.handed[3:]) == [ISSUED.key.encode()]
        # host-a's router gone: this round's call still had the keys (its last answer named
        # the router), which it drops; the next ones carry none.
        assert len(a.handed) == 4
        await a.kill("i-a")
        await drive_hosts(remotes, views, [], no_record, certificates=opened)
        assert keys_in(a.handed[4:]) == [ISSUED.key.encode()]
        await drive_hosts(remotes, views, [], no_record, certificates=opened)
        assert len(a.handed) == 6 and keys_in(a.handed[5:]) == []
    finally:
        for remote in remotes:
            await remote.close()
        stop.set()
        await asyncio.gather(*tasks)


async def test_a_host_failing_is_heard_anew_and_the_gateway_forgets_hosts_gone() -> None:
    a = Recording("host-a")
    await run_in(a, "i-a", "vpc-a", "10.0.1.11")
    opened = ListenerCertificates(Opener(), 25, 2048)
    await drive_hosts([a], [view("listener-ok", WWW)], [], no_record, certificates=opened)
    assert opened.routers_of("host-a") == {"vpc-a"}
    opened.heard("host-z", ["vpc-z"])
    await drive_hosts([a], [view("listener-ok", WWW)], [], no_record, certificates=opened)
    assert opened.routers_of("host-z") == frozenset()  # not a host of the region any more
    broken = Unanswering("host-a")
    await drive_hosts([broken], [view("listener-ok", WWW)], [], no_record, certificates=opened)
    assert opened.routers_of("host-a") == frozenset()


class Unanswering(MemoryDriver):
    async def set_load_balancers(self, listeners: tuple[BalancedListener, ...]) -> Any:
        raise HostUnreachable("agent of host-a: connection refused")


class Terminators:
    """A host's TLS terminators as :class:`HostBalancers` drives them, serving nothing but
    what they are told, and counting what the test says."""

    def __init__(self) -> None:
        self.told: list[list[ForwardingView]] = []
        self.counted: dict[Any, tuple[int, int, int, int]] = {}

    async def apply(self, views: list[ForwardingView], limits_of: Any) -> None:
        self.told.append(views)

    def counters(self) -> dict[Any, tuple[int, int, int, int]]:
        return dict(self.counted)

    def active_flows(self) -> dict[Any, int]:
        return {("vpc-a", "10.0.1.200", 443, "tls"): 2} if self.counted else {}

    def access_logs(self) -> dict[Any, tuple[str, ...]]:
        return {}

    async def close(self) -> None:
        return None


async def test_a_host_keeps_serving_a_listener_told_without_its_keys_and_counts_it() -> None:
    """The host's side: a listener told with its keys withheld is not started; one a
    terminator serves with the keys of an earlier hand-over goes on as it was (a gateway
    that has not heard the host yet hands the keys again in the same round: the connections
    are not cut); the terminators' counts are answered as counted since the last report,
    with the routers' — a TLS listener's under transport ``tls``."""
    host = HostBalancers(NoRouters())  # type: ignore[arg-type]
    fake = Terminators()
    host._terminators = fake  # type: ignore[assignment]
    assert SECURE.tls is not None
    withheld = BalancedListener(
        SECURE.listener_id, SECURE.vpc_id, SECURE.addresses, SECURE.port, SECURE.targets,
        tls=SECURE.tls.without_keys(),
    )  # fmt: skip
    await host.apply((withheld,))
    assert fake.told[-1] == []  # no key: nothing served
    await host.apply((SECURE,))
    (served,) = fake.told[-1]
    assert served.tls is not None and served.tls.certificates == (WWW,)
    fake.counted = {("vpc-a", "10.0.1.200", 443, "tls"): (5, 500, 1, 0)}
    report = await host.apply((withheld,))
    assert fake.told[-1] == [served]  # kept, keys and all
    (counter,) = report.counters
    assert (counter.transport, counter.flows, counter.processed_bytes) == ("tls", 5, 500)
    assert (counter.client_tls_errors, counter.target_tls_errors) == (1, 0)
    assert [(a.transport, a.count) for a in report.active] == [("tls", 2)]
    fake.counted = {("vpc-a", "10.0.1.200", 443, "tls"): (7, 650, 1, 3)}
    (counter,) = (await host.apply((SECURE,))).counters
    assert (counter.flows, counter.processed_bytes) == (2, 150)
    assert (counter.client_tls_errors, counter.target_tls_errors) == (0, 3)
    # Another VPC's listener told without its keys stays unserved.
    other = BalancedListener(
        "listener-b", "vpc-b", ("10.9.1.200",), 443, (("10.9.1.5", 80),),
        tls=SECURE.tls.without_keys(),
    )  # fmt: skip
    await host.apply((other,))
    assert fake.told[-1] == []


def test_a_listener_is_told_with_its_keys_or_withheld_never_half() -> None:
    assert SECURE.tls is not None
    with pytest.raises(ValueError, match="withheld carries no certificate"):
        BalancedTls((SERVED,), SECURE.tls.ssl_policy, withheld=True)
    withheld = SECURE.tls.without_keys()
    assert withheld.certificates == () and withheld.withheld
    assert "withheld" not in encode(SECURE)["tls"]  # omitted at its default: older agents
    assert encode(withheld)["withheld"] is True
