"""Application Load Balancers' HTTP proxy (decision 0216) over real sockets on 127.0.0.1:
the rules applied, round robin, AWS's forwarded headers, keep-alive, streamed bodies both
ways (chunked and Content-Length), fixed responses, redirects and AWS's own 400/502/503/504."""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
from collections.abc import AsyncIterator

import h11
import httpx

from andromede.hypervisor.http_proxies import HttpListenerProxy, HttpRouting, ProxyLimits
from andromede.loadbalancing.http_rules import Condition, FixedResponse, Forward, Redirect, Rule


class Target:
    """A small HTTP/1.1 server answering its name, the request's method, path and headers,
    and the body's length it received; ``/stream`` answers a chunked body in parts, ``/slow``
    after ``slow`` seconds, ``/login`` sets the application cookie ``SESSION``; over TLS with
    ``context`` (decision 0231's tests)."""

    def __init__(
        self, name: str, *, behaviour: str = "ok", context: ssl.SSLContext | None = None
    ) -> None:
        self.name = name
        self.behaviour = behaviour
        self.context = context
        self.slow = 0.0
        self.tls_seen = 0
        self.seen: list[h11.Request] = []
        self.server: asyncio.Server | None = None
        self.port = 0

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    async def start(self) -> Target:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.context)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER)
        request: h11.Request | None = None
        received = 0
        self.tls_seen += writer.get_extra_info("ssl_object") is not None
        try:
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    conn.receive_data(await reader.read(65536))
                    continue
                if isinstance(event, h11.Request):
                    request = event
                    self.seen.append(event)
                elif isinstance(event, h11.Data):
                    received += len(event.data)
                elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                    break
            if self.behaviour == "garbage":
                writer.write(b"NOT HTTP AT ALL\r\n\r\n")
                await writer.drain()
                return
            if self.behaviour == "silent":
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.sleep(5)
                return
            assert request is not None
            if request.target == b"/slow":
                await asyncio.sleep(self.slow)
            if request.target == b"/stream":
                writer.write(conn.send(h11.Response(status_code=200, headers=[])))
                for index in range(3):
                    writer.write(conn.send(h11.Data(data=f"part{index};".encode())))
                    await writer.drain()
                    await asyncio.sleep(0.01)
                writer.write(conn.send(h11.EndOfMessage()))
            else:
                body = f"{self.name} {request.method.decode()} {request.target.decode()} {received}"
                writer.write(
                    conn.send(
                        h11.Response(
                            status_code=200,
                            headers=[
                                ("content-length", str(len(body))),
                                ("x-target", self.name),
                                *[("set-cookie", "SESSION=s1; Path=/")]
                                * (request.target == b"/login"),
                            ],
                        )
                    )
                )
                writer.write(conn.send(h11.Data(data=body.encode())))
                writer.write(conn.send(h11.EndOfMessage()))
            await writer.drain()
        except (ConnectionError, h11.RemoteProtocolError):
            pass  # a client that speaks no HTTP (a TLS handshake to a plain target)
        finally:
            writer.close()

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


@contextlib.asynccontextmanager
async def proxy(
    rules: tuple[Rule, ...], groups: dict[str, tuple[tuple[str, int], ...]], **limits: object
) -> AsyncIterator[str]:
    running = HttpListenerProxy(
        HttpRouting("l1", 80, rules, groups),
        ProxyLimits(**limits),  # type: ignore[arg-type]
    )
    port = await running.start("127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await running.close()


def default(action: object) -> Rule:
    return Rule("d", None, (), action)  # type: ignore[arg-type]


async def test_rules_round_robin_and_forwarded_headers() -> None:
    a, b, api = Target("a"), Target("b"), Target("api")
    for target in (a, b, api):
        await target.start()
    rules = (
        Rule("r1", 1, (Condition("path-pattern", ("/api/*",)),), Forward((("api", 1),))),
        Rule("r2", 2, (Condition("host-header", ("*.old.example",)),),
             Redirect("HTTP_301", protocol="HTTPS", port="443")),
        Rule("r3", 3, (Condition("query-string", pairs=(("down", "*"),)),),
             FixedResponse("503", "application/json", '{"down":true}')),
        default(Forward((("web", 1),))),
    )  # fmt: skip
    groups = {
        "web": (("127.0.0.1", a.port), ("127.0.0.1", b.port)),
        "api": (("127.0.0.1", api.port),),
    }
    try:
        async with proxy(rules, groups) as url, httpx.AsyncClient(base_url=url) as client:
            names = [(await client.get("/")).headers["x-target"] for _ in range(4)]
            assert names == ["a", "b", "a", "b"]
            answer = await client.get("/api/items?x=1", headers={"X-Forwarded-For": "203.0.113.9"})
            assert answer.text == "api GET /api/items?x=1 0"
            seen = dict(api.seen[-1].headers)
            assert seen[b"x-forwarded-for"] == b"203.0.113.9, 127.0.0.1"
            assert (seen[b"x-forwarded-proto"], seen[b"x-forwarded-port"]) == (b"http", b"80")
            assert re.fullmatch(rb"Root=1-[0-9a-f]{8}-[0-9a-f]{24}", seen[b"x-amzn-trace-id"])
            assert seen[b"host"] == url.removeprefix("http://").encode()
            moved = await client.get("/shop?id=3", headers={"Host": "www.old.example"})
            assert moved.status_code == 301
            assert moved.headers["location"] == "https://www.old.example/shop?id=3"
            fixed = await client.get("/?down=1")
            assert (fixed.status_code, fixed.json()) == (503, {"down": True})
            assert fixed.headers["content-type"] == "application/json"
    finally:
        for target in (a, b, api):
            await target.close()


async def test_keep_alive_and_streamed_bodies() -> None:
    target = await Target("t").start()
    try:
        async with proxy(
            (default(Forward((("g", 1),))),), {"g": (("127.0.0.1", target.port),)}
        ) as url:
            host, port = url.removeprefix("http://").split(":")
            reader, writer = await asyncio.open_connection(host, int(port))
            # Two requests on one connection, the first with a chunked body of 3 parts.
            writer.write(
                b"POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"5\r\nhello\r\n6\r\n world\r\n1\r\n!\r\n0\r\n\r\n"
                b"PUT /up2 HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nabcd"
            )
            await writer.drain()
            conn = h11.Connection(h11.CLIENT)
            chunked = [("host", "x"), ("transfer-encoding", "chunked")]
            conn.send(h11.Request(method="POST", target="/up", headers=chunked))
            conn.send(h11.EndOfMessage())
            bodies = []
            for _ in range(2):
                body = b""
                while True:
                    event = conn.next_event()
                    if event is h11.NEED_DATA:
                        conn.receive_data(await reader.read(65536))
                    elif isinstance(event, h11.Data):
                        body += event.data
                    elif isinstance(event, h11.EndOfMessage):
                        break
                bodies.append(body.decode())
                if len(bodies) == 1:
                    conn.start_next_cycle()
                    sized = [("host", "x"), ("content-length", "4")]
                    conn.send(h11.Request(method="PUT", target="/up2", headers=sized))
                    conn.send(h11.Data(data=b"abcd"))
                    conn.send(h11.EndOfMessage())
            assert bodies == ["t POST /up 12", "t PUT /up2 4"]
            writer.close()
            async with httpx.AsyncClient(base_url=url) as client:
                async with client.stream("GET", "/stream") as streamed:
                    assert streamed.headers.get("transfer-encoding") == "chunked"
                    parts = [chunk async for chunk in streamed.aiter_bytes()]
                assert b"".join(parts) == b"part0;part1;part2;"
    finally:
        await target.close()


async def test_aws_own_error_answers() -> None:
    garbage = await Target("g", behaviour="garbage").start()
    silent = await Target("s", behaviour="silent").start()
    closed = await Target("c").start()
    await closed.close()  # nothing listens on its port any more
    rules = (
        Rule("1", 1, (Condition("path-pattern", ("/garbage",)),), Forward((("garbage", 1),))),
        Rule("2", 2, (Condition("path-pattern", ("/silent",)),), Forward((("silent", 1),))),
        Rule("3", 3, (Condition("path-pattern", ("/closed",)),), Forward((("closed", 1),))),
        default(Forward((("empty", 1),))),
    )
    groups = {
        "garbage": (("127.0.0.1", garbage.port),),
        "silent": (("127.0.0.1", silent.port),),
        "closed": (("127.0.0.1", closed.port),),
        "empty": (),
    }
    try:
        async with proxy(rules, groups, idle_timeout=0.5, max_header_bytes=2048) as url:
            async with httpx.AsyncClient(base_url=url) as client:
                for path, status in (("/", 503), ("/garbage", 502), ("/closed", 502),
                                     ("/silent", 504)):  # fmt: skip
                    answer = await client.get(path)
                    assert answer.status_code == status, path
                    assert answer.headers["server"] == "awselb/2.0"
                    assert f"<h1>{status} " in answer.text
                big = await client.get("/", headers={"X-Big": "x" * 4096})
                assert big.status_code == 400
                assert "400 Bad Request" in big.text
    finally:
        for target in (garbage, silent):
            await target.close()


async def test_forwarded_for_modes_and_invalid_headers() -> None:
    target = await Target("t").start()
    try:
        for mode, expected in (("preserve", b"198.51.100.1"), ("remove", None)):
            async with (
                proxy(
                    (default(Forward((("g", 1),))),),
                    {"g": (("127.0.0.1", target.port),)},
                    xff_mode=mode,
                    drop_invalid_headers=True,
                ) as url,
                httpx.AsyncClient(base_url=url) as client,
            ):
                await client.get("/", headers={"X-Forwarded-For": "198.51.100.1", "X_Under": "1"})
                seen = dict(target.seen[-1].headers)
                assert seen.get(b"x-forwarded-for") == expected
                assert b"x_under" not in seen
        async with proxy(
            (default(Forward((("g", 1),))),), {"g": (("127.0.0.1", target.port),)},
            xff_client_port=True,
        ) as url, httpx.AsyncClient(base_url=url) as client:  # fmt: skip
            await client.get("/")
            assert re.fullmatch(
                rb"127\.0\.0\.1:\d+", dict(target.seen[-1].headers)[b"x-forwarded-for"]
            )
    finally:
        await target.close()


async def test_client_keep_alive_ends_an_old_connection() -> None:
    """client_keep_alive.seconds: a connection older than it is closed after its answer."""
    target = await Target("t").start()
    try:
        async with proxy(
            (default(FixedResponse("200", "text/plain", "hi")),), {}, client_keep_alive=0.0
        ) as url:
            host, port = url.removeprefix("http://").split(":")
            reader, writer = await asyncio.open_connection(host, int(port))
            writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
            await writer.drain()
            answered = await asyncio.wait_for(reader.read(), 5)  # closed after the first
            assert answered.count(b"HTTP/1.1 200") == 1 and answered.endswith(b"hi")
            writer.close()
    finally:
        await target.close()


async def test_desync_mitigation_modes_as_awss_table() -> None:
    """routing.http.desync_mitigation_mode (decision 0287): each request of a class followed
    on its connection by a compliant one — both answered when forwarded, the first only when
    its connection is closed after the response, a 400 alone when refused."""
    follow = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    requests = {
        "Compliant": b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        "Acceptable": b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
        "Ambiguous": b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok",
        "Severe": (
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
            b"Transfer_Encoding: chunked\r\n\r\nok"
        ),
    }
    expected = {
        "monitor": {"Compliant": "2", "Acceptable": "2", "Ambiguous": "2", "Severe": "2"},
        "defensive": {"Compliant": "2", "Acceptable": "2", "Ambiguous": "1", "Severe": "400"},
        "strictest": {"Compliant": "2", "Acceptable": "400", "Ambiguous": "400", "Severe": "400"},
    }
    for mode, outcomes in expected.items():
        async with proxy(
            (default(FixedResponse("200", "text/plain", "hi")),), {}, desync_mode=mode
        ) as url:
            host, port = url.removeprefix("http://").split(":")
            for kind, request in requests.items():
                reader, writer = await asyncio.open_connection(host, int(port))
                writer.write(request + follow)
                await writer.drain()
                answered = await asyncio.wait_for(reader.read(), 5)  # closed by the proxy
                writer.close()
                if answered.startswith(b"HTTP/1.1 400"):
                    seen = "400"
                else:
                    seen = str(answered.count(b"HTTP/1.1 200"))
                assert seen == outcomes[kind], (mode, kind, answered[:40])
