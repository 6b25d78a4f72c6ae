"""A plain HTTP listener's connection logs (decision 0307) on a host, over real sockets on
127.0.0.1: served by the host's HTTP listeners (the namespace's thread run in place, as the
other listener tests do), each accepted connection gets one line — the client's address and
port, the listener's port, AWS's ``-`` for the six TLS fields, ``Success`` and the
``conn_trace_id`` its requests' access log lines carry —, a connection that sends nothing
included; none while the load balancer's connection logs are off; the lines bounded as the
access logs' and taken once by the host's report."""

from __future__ import annotations

import asyncio
import re
import shlex
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest

from andromede.hypervisor import http_listeners
from andromede.hypervisor.http_connection_log import plain_line
from andromede.loadbalancing.application import HttpSettings
from andromede.loadbalancing.connection_logs import connection_line_time
from andromede.loadbalancing.http_rules import FixedResponse, Rule
from andromede.loadbalancing.model import ForwardingView
from unit.hypervisor.test_http_listeners import _free_port

ELB = "app/shop/50dc6c495c0c9188"


@asynccontextmanager
async def _served(
    logs: str, max_lines: int = 100
) -> AsyncIterator[tuple[int, http_listeners.HttpListeners]]:
    """An HTTP listener answering a fixed response, its access and connection logs on for
    ``logs`` (``app/NAME/ID``); its port and its host's listeners."""

    async def in_place(namespace: str, work: Callable[[], int]) -> int:
        return work()

    view = ForwardingView(
        "l-http", "vpc-1", ("127.0.0.1",), _free_port(), tenant_id="1",
        http=HttpSettings(
            rules=(Rule("d", None, (), FixedResponse("200", "text/plain", "ok")),),
            groups=(), protocol="HTTP", access_log=logs, connection_log=logs,
            access_log_max_lines=max_lines,
        ),
    )  # fmt: skip
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(http_listeners, "_in_netns", in_place)
        proxies = http_listeners.HttpListeners(lambda vpc: "in-place")
        try:
            await proxies.apply([view])
            assert proxies.listening == {("vpc-1", "l-http")}
            yield view.port, proxies
        finally:
            await proxies.close()


async def _connection(port: int, requests: int) -> int:
    """One client connection sending ``requests`` requests one after another (none: it
    connects and leaves); its own port."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    local = int(writer.get_extra_info("sockname")[1])
    for number in range(requests):
        last = number == requests - 1
        closing = "Connection: close\r\n" if last else ""
        writer.write(f"GET /{number} HTTP/1.1\r\nHost: shop\r\n{closing}\r\n".encode())
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        assert head.startswith(b"HTTP/1.1 200")
        await asyncio.wait_for(reader.readexactly(2), 10)
    writer.close()
    await writer.wait_closed()
    return local


def test_a_plain_connections_line_is_awss_with_dashes_for_tls() -> None:
    """AWS's twelve fields: no protocol, cipher, handshake latency or certificate for a
    connection without TLS — ``-`` each (the subject quoted) —, ``Success``."""
    line = plain_line(("203.0.113.7", 50123), 80, "TID_00aa")
    fields = line.split(" ")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", fields[0])
    assert fields[1:] == [
        "203.0.113.7", "50123", "80", "-", "-", "-", '"-"', "-", "-", "Success", "TID_00aa",
    ]  # fmt: skip
    assert connection_line_time(line) is not None  # batched by its time as the HTTPS ones


async def test_each_http_connection_is_logged_once_with_its_trace_id() -> None:
    async with _served(ELB) as (port, proxies):
        kept_alive = await _connection(port, 2)  # two requests on one connection
        single = await _connection(port, 1)
        silent = await _connection(port, 0)  # accepted, no request: logged all the same
        await asyncio.sleep(0.1)
        key = ("vpc-1", "127.0.0.1", port)
        connections = proxies.connection_logs()[key]
        accessed = proxies.access_logs()[key]
        assert proxies.connection_logs() == {}  # taken once
    lines = [shlex.split(line) for line in connections]
    assert len(lines) == 3 and all(len(line) == 12 for line in lines)
    assert {int(line[2]): line for line in lines}.keys() == {kept_alive, single, silent}
    for line in lines:
        assert line[1] == "127.0.0.1" and line[3] == str(port)
        assert line[4:10] == ["-"] * 6 and line[10] == "Success"
        assert re.fullmatch(r"TID_[0-9a-f]{32}", line[11])
    traces = {int(line[2]): line[11] for line in lines}
    assert len(set(traces.values())) == 3  # one trace id a connection
    # The access log's lines carry their connection's conn_trace_id (its last field).
    requested = [line.split(" ")[-1] for line in accessed]
    assert requested == [traces[kept_alive], traces[kept_alive], traces[single]]


async def test_no_line_while_off_and_at_most_the_bound_while_on() -> None:
    async with _served("") as (port, proxies):
        await _connection(port, 1)
        await asyncio.sleep(0.05)
        assert proxies.connection_logs() == {}  # off: nothing written
    async with _served(ELB, max_lines=2) as (port, proxies):
        ports = [await _connection(port, 1) for _ in range(3)]
        await asyncio.sleep(0.1)
        (kept,) = proxies.connection_logs().values()
    # elb_access_log_max_buffered_lines bounds them as the access logs': the newest kept.
    assert [int(line.split(" ")[2]) for line in kept] == ports[1:]
