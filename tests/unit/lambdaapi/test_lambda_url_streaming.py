"""Decision 0337: a ``RESPONSE_STREAM`` function URL sends each piece a generator handler
yields as it is made — the prelude's status, headers and cookies first when the handler
yields a ``dict`` first (AWS's ``application/vnd.awslambda.http-integration-response``,
read by ``functions.http_prelude``), ``application/octet-stream`` otherwise —; a value
returned is read as ``BUFFERED`` reads it; a failure before the first piece is AWS's 502, one
after it cuts the chunked body (no last chunk) and is audited; a slow reader holds the
handler back; the streamed bound and the prelude's bound; a client that leaves does not stop
the run. The handlers run in the real ``bwrap`` sandbox, the URLs' app called in process."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from andromede.functions.http_prelude import (
    STREAM_TYPE,
    BadPrelude,
    PreludeReader,
    prelude_head,
)
from support.lambdaapp import World, handler_zip, lambda_world

needs_bwrap = pytest.mark.skipif(
    shutil.which("bwrap") is None,
    reason="bubblewrap is not installed (scripts/install-system-deps.sh installs it)",
)

SOURCE = """
import time

def handler(event, context):
    query = event.get("queryStringParameters") or {}
    kind = query.get("kind", "prelude")
    if kind == "value":
        return {"statusCode": 202, "headers": {"X-Kind": "value"}, "body": "whole"}
    if kind == "early":
        raise RuntimeError("before any piece")
    return pieces(kind, query)

def pieces(kind, query):
    if kind == "only":  # a prelude and no body
        yield {"statusCode": 403, "headers": {"X-Kind": "only"}}
        return
    if kind == "prelude":
        yield {"statusCode": 201, "headers": {"Content-Type": "text/plain", "X-Kind": "prelude",
               "Access-Control-Allow-Origin": "https://not-the-config.example"},
               "cookies": ["seen=1; Path=/", "theme=dark"]}
    if kind == "badprelude":
        yield {"statusCode": "two hundred"}
    if kind == "hugeprelude":
        yield {"statusCode": 200, "headers": {"X-Big": "x" * 300}}
    yield "first;"
    if kind == "many":
        for _ in range(int(query.get("n", "64"))):
            yield b"m" * 65536
        yield f"made by {time.time()}"
        return
    time.sleep(float(query.get("pause", "0")))
    if kind == "fail":
        raise ValueError("failed mid-stream")
    yield b"second;"
"""
PUBLIC = {
    "StatementId": "public-url",
    "Action": "lambda:InvokeFunctionUrl",
    "Principal": "*",
    "FunctionUrlAuthType": "NONE",
}


# -- the prelude, pure ---------------------------------------------------------------------


def test_a_prelude_read_across_pieces_and_what_follows_it() -> None:
    reader = PreludeReader(1024)
    prelude = json.dumps({"statusCode": 404, "headers": {"X-A": 1}, "cookies": ["c=1"]})
    assert reader.feed(prelude[:10].encode()) is None
    assert reader.feed(prelude[10:].encode() + b"\0" * 3) is None  # the delimiter split too
    assert reader.feed(b"\0" * 5 + b"body") == b"body"
    head = prelude_head(reader.metadata)
    assert head.status == 404
    assert head.headers == [("X-A", "1"), ("Content-Type", STREAM_TYPE), ("Set-Cookie", "c=1")]
    bare = PreludeReader(1024)
    assert bare.feed(b"{}" + b"\0" * 8) == b""
    assert prelude_head(bare.metadata).status == 200  # statusCode absent: 200


@pytest.mark.parametrize(
    "metadata",
    [
        [],
        {"statusCode": "200"},
        {"statusCode": 99},
        {"statusCode": True},
        {"headers": []},
        {"cookies": "c=1"},
    ],
)
def test_a_prelude_not_of_aws_shape_is_refused(metadata: object) -> None:
    with pytest.raises(BadPrelude):
        prelude_head(metadata)


def test_a_prelude_is_bounded_and_json() -> None:
    endless = PreludeReader(16)
    assert endless.feed(b"{" + b" " * 15) is None
    with pytest.raises(BadPrelude, match="within 16 bytes"):
        endless.feed(b" ")
    late = PreludeReader(16)
    with pytest.raises(BadPrelude, match="within 16 bytes"):
        late.feed(b"{" + b" " * 20 + b"}" + b"\0" * 8)
    with pytest.raises(BadPrelude, match="not JSON"):
        PreludeReader(16).feed(b"{nope" + b"\0" * 8)


# -- served through the URLs' app ----------------------------------------------------------


class Sent:
    """What the app sent: the status, headers (lower-cased, repeated ones on lines), each body
    message and when it came, and whether the body ended (its last chunk sent)."""

    def __init__(self) -> None:
        self.status = 0
        self.headers: dict[str, str] = {}
        self.pieces: list[bytes] = []
        self.times: list[float] = []
        self.ended = False

    @property
    def body(self) -> bytes:
        return b"".join(self.pieces)

    async def __call__(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            for k, v in message["headers"]:
                name = k.decode().lower()
                seen = self.headers.get(name)
                self.headers[name] = v.decode() if seen is None else f"{seen}\n{v.decode()}"
            return
        if message.get("body"):
            self.pieces.append(message["body"])
            self.times.append(time.monotonic())
        if not message.get("more_body", False):
            self.ended = True


async def call(
    world: World,
    host: str,
    query: str = "",
    method: str = "GET",
    send: Callable[[dict[str, Any]], Awaitable[None]] | None = None,
) -> Sent:
    scope = {
        "type": "http",
        "method": method,
        "path": "/",
        "raw_path": b"/",
        "query_string": query.encode(),
        "scheme": "http",
        "http_version": "1.1",
        "client": ("192.0.2.9", 50000),
        "server": ("127.0.0.1", 9000),
        "headers": [(b"host", f"{host}:9000".encode()), (b"origin", b"https://app.example")],
    }
    messages = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    sent = Sent()

    async def relay(message: dict[str, Any]) -> None:
        await sent(message)
        if send is not None:
            await send(message)

    assert world.url_app is not None
    await world.url_app(scope, receive, relay)
    return sent


async def streaming_url(world: World, name: str = "stream") -> str:
    await world.function(name, Code={"ZipFile": handler_zip(SOURCE)}, Timeout=30)
    made = await world.client(
        "CreateFunctionUrlConfig",
        FunctionName=name,
        AuthType="NONE",
        InvokeMode="RESPONSE_STREAM",
        Cors={"AllowOrigins": ["https://app.example"]},
    )
    await world.client("AddPermission", FunctionName=name, **PUBLIC)
    found = re.fullmatch(r"http://([a-z0-9]{32}\.lambda-url\.eu-fr-1\.localhost):9000/",
                         made["FunctionUrl"])  # fmt: skip
    assert found is not None
    return found[1]


async def audited(world: World) -> list[tuple[str, str | None]]:
    await world.audit.flush()
    listed = await world.audit_store.list_events(None, after_id=0, limit=500)
    return [
        (e.outcome.value, e.details.get("error"))
        for _, e in listed
        if e.action == "lambda:InvokeFunctionUrl"
    ]


async def wait_for_runs(world: World, count: int) -> None:
    """Until ``count`` runs are metered (a run is metered at its end); generous for CI."""
    deadline = time.monotonic() + 60
    while world.meters.counted.get((world.tenant_id, "lambda.requests"), 0) < count:
        assert time.monotonic() < deadline, "the run did not end"
        await asyncio.sleep(0.05)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async for made in lambda_world(tmp_path):
        yield made


@needs_bwrap
async def test_the_prelude_then_each_piece_as_it_is_made(world: World) -> None:
    host = await streaming_url(world)
    sent = await call(world, host, "kind=prelude&pause=2")
    assert (sent.status, sent.ended) == (201, True)
    assert sent.headers["content-type"] == "text/plain"
    assert sent.headers["x-kind"] == "prelude"
    assert sent.headers["set-cookie"].split("\n") == ["seen=1; Path=/", "theme=dark"]
    assert sent.headers["access-control-allow-origin"] == "https://app.example"  # the URL's
    assert "content-length" not in sent.headers  # chunked
    # Each piece its own message, the first sent before the handler's pause.
    assert sent.pieces == [b"first;", b"second;"]
    assert sent.times[1] - sent.times[0] > 1.0
    assert await audited(world) == [("success", None)]


@needs_bwrap
async def test_without_a_prelude_a_stream_is_octets_and_a_value_is_read_as_buffered(
    world: World,
) -> None:
    host = await streaming_url(world)
    plain = await call(world, host, "kind=plain")
    assert (plain.status, plain.headers["content-type"]) == (200, STREAM_TYPE)
    assert plain.pieces == [b"first;", b"second;"] and plain.ended
    value = await call(world, host, "kind=value")
    assert (value.status, value.headers["x-kind"], value.body) == (202, "value", b"whole")
    head = await call(world, host, "kind=prelude", method="HEAD")
    assert (head.status, head.body, head.ended) == (201, b"", True)
    only = await call(world, host, "kind=only")
    assert (only.status, only.headers["x-kind"], only.body, only.ended) == (403, "only", b"", True)
    await wait_for_runs(world, 4)  # the HEAD's run went on to its end


@needs_bwrap
async def test_failures_before_the_first_piece_are_502_and_after_it_cut_the_body(
    world: World,
) -> None:
    host = await streaming_url(world)
    early = await call(world, host, "kind=early")
    assert early.status == 502 and json.loads(early.body) == {"Message": "Internal Server Error"}
    bad = await call(world, host, "kind=badprelude")
    assert bad.status == 502 and bad.ended
    cut = await call(world, host, "kind=fail")
    assert cut.status == 200 and cut.pieces == [b"first;"]
    assert not cut.ended  # no last chunk: the client reads an incomplete answer
    assert await audited(world) == [
        ("failure", "RuntimeError"), ("failure", "InvalidPrelude"), ("failure", "ValueError")
    ]  # fmt: skip


@needs_bwrap
async def test_a_slow_reader_holds_the_handler_back(world: World) -> None:
    host = await streaming_url(world)
    go = asyncio.Event()
    bodies = 0

    async def slow(message: dict[str, Any]) -> None:
        nonlocal bodies
        if message.get("body"):
            bodies += 1
            if bodies == 2:
                await go.wait()  # the client stops reading after its first pieces

    # 20 MiB, more than the gateway may hold of a run (a queue of four pieces, the pipe
    # reader's 16 MB): the handler can only make its last piece once the client reads again.
    calling = asyncio.ensure_future(call(world, host, "kind=many&n=320", send=slow))
    deadline = time.monotonic() + 60
    while bodies < 2:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    await asyncio.sleep(1.0)
    assert not calling.done()
    released = time.time()
    go.set()
    sent = await calling
    assert sent.ended
    made = sent.pieces[-1].decode()
    assert made.startswith("made by ")
    assert float(made.removeprefix("made by ")) >= released
    assert len(sent.body) == len(b"first;") + 320 * 65536 + len(made)


@needs_bwrap
async def test_a_client_that_leaves_does_not_stop_the_run(world: World) -> None:
    host = await streaming_url(world)

    async def gone(message: dict[str, Any]) -> None:
        if message.get("body"):
            raise OSError("the client went away")

    with pytest.raises(OSError, match="went away"):
        await call(world, host, "kind=plain&pause=0.5", send=gone)
    await wait_for_runs(world, 1)
    assert any(m.startswith("END RequestId") for *_, m in world.logs.written)


@pytest.fixture
async def bounded(tmp_path: Path) -> AsyncIterator[World]:
    async for made in lambda_world(
        tmp_path, lambda_max_streamed_response_bytes=100_000, lambda_url_max_prelude_bytes=128
    ):
        yield made


@needs_bwrap
async def test_the_streamed_bound_cuts_and_the_prelude_bound_refuses(bounded: World) -> None:
    host = await streaming_url(bounded)
    cut = await call(bounded, host, "kind=many&n=4")
    assert cut.status == 200 and not cut.ended
    assert len(cut.body) <= 100_000
    huge = await call(bounded, host, "kind=hugeprelude")
    assert huge.status == 502
    assert await audited(bounded) == [
        ("failure", "Function.ResponseSizeTooLarge"), ("failure", "InvalidPrelude")
    ]  # fmt: skip


@needs_bwrap
async def test_invoke_gathers_the_prelude_as_aws_writes_it(world: World) -> None:
    """Invoke (not a URL) of a handler opening with a prelude answers the stream's bytes:
    the prelude's JSON, eight NULs, the body — what Node's ``HttpResponseStream.from`` writes."""
    await world.function("raw", Code={"ZipFile": handler_zip(SOURCE)})
    event = json.dumps({"queryStringParameters": {"kind": "prelude"}}).encode()
    done = await world.client("Invoke", FunctionName="raw", Payload=event)
    prelude, _, body = done["Payload"].read().partition(b"\0" * 8)
    assert json.loads(prelude)["statusCode"] == 201
    assert body == b"first;second;"
