"""Decision 0313's streaming core (``functions.response_stream``) over runs that stand for the
Invoker: pieces in order and read while the run goes on, a value answered in one piece, what a
run raises before its first piece raised by ``start``, the size limit cutting the run, a
reader that leaves letting the run end — and the sandbox's side, through the real ``bwrap``:
a generator handler's pieces reach the sink while it is still running, its failure after
them, the sandbox stopped when the sink cuts the stream."""

from __future__ import annotations

import asyncio
import io
import json
import shutil
import time
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from andromede.functions.errors import TooManyRequests
from andromede.functions.invoker import Invocation
from andromede.functions.response_stream import TOO_LARGE, StreamedInvocation
from andromede.functions.sandbox import (
    ChunkSink,
    SandboxLimits,
    SandboxPool,
    SandboxSpec,
    StreamCut,
)


def _done(payload: bytes = b"", ok: bool = True) -> Invocation:
    return Invocation("$LATEST", ok, payload, "log\n", None if ok else "ValueError")


async def _read(streamed: StreamedInvocation) -> list[bytes]:
    return [piece async for piece in streamed.pieces()]


async def test_pieces_in_order_while_the_run_goes_on() -> None:
    seen: list[str] = []

    async def run(sink: ChunkSink) -> Invocation:
        for piece in (b"one", b"two", b"three"):
            await sink(piece)
            seen.append(f"made {piece.decode()}")
        return _done()

    streamed = StreamedInvocation(run, limit=100, depth=1)
    await streamed.start()
    pieces = []
    async for piece in streamed.pieces():
        seen.append(f"read {piece.decode()}")
        pieces.append(piece)
    assert pieces == [b"one", b"two", b"three"]
    # A queue of one: the run cannot get more than a piece or two ahead of its reader.
    assert seen.index("read one") < seen.index("made three")
    assert streamed.outcome is not None and streamed.outcome.ok


async def test_a_value_is_one_piece_and_a_failure_the_outcome() -> None:
    async def returned(sink: ChunkSink) -> Invocation:
        return _done(b'{"sum": 5}')

    streamed = StreamedInvocation(returned, limit=100)
    await streamed.start()
    assert await _read(streamed) == [b'{"sum": 5}']

    async def failed(sink: ChunkSink) -> Invocation:
        await sink(b"partial")
        return _done(b'{"errorType": "ValueError"}', ok=False)

    streamed = StreamedInvocation(failed, limit=100)
    await streamed.start()
    assert await _read(streamed) == [b"partial"]  # an error document is not a piece
    assert streamed.outcome is not None and streamed.outcome.error_type == "ValueError"


async def test_what_fails_before_the_first_piece_is_raised_by_start() -> None:
    async def throttled(sink: ChunkSink) -> Invocation:
        raise TooManyRequests("Rate Exceeded.", reason="ConcurrentInvocationLimitExceeded")

    with pytest.raises(TooManyRequests):
        await StreamedInvocation(throttled, limit=100).start()


async def test_the_limit_cuts_the_run() -> None:
    cut: list[StreamCut] = []

    async def run(sink: ChunkSink) -> Invocation:
        try:
            await sink(b"x" * 60)
            await sink(b"y" * 60)
        except StreamCut as exc:  # the sandbox stops the function and reports this
            cut.append(exc)
            return Invocation("$LATEST", False, b"{}", "", exc.error_type)
        return _done()

    streamed = StreamedInvocation(run, limit=100)
    await streamed.start()
    assert await _read(streamed) == [b"x" * 60]
    assert cut[0].error_type == TOO_LARGE and "(100 bytes)" in cut[0].message
    assert streamed.outcome is not None and streamed.outcome.error_type == TOO_LARGE

    async def big(sink: ChunkSink) -> Invocation:
        return _done(b"z" * 101)

    streamed = StreamedInvocation(big, limit=100)
    await streamed.start()
    assert await _read(streamed) == []
    assert streamed.outcome is not None and streamed.outcome.error_type == TOO_LARGE
    assert json.loads(streamed.outcome.payload)["errorType"] == TOO_LARGE


async def test_a_reader_that_leaves_lets_the_run_end() -> None:
    ended = asyncio.Event()

    async def run(sink: ChunkSink) -> Invocation:
        for _ in range(20):  # far more than the queue holds
            await sink(b"piece")
        ended.set()
        return _done()

    streamed = StreamedInvocation(run, limit=1000, depth=1)
    await streamed.start()
    reader = streamed.pieces()
    assert await anext(reader) == b"piece"
    await reader.aclose()
    await streamed.abandon()
    await asyncio.wait_for(ended.wait(), timeout=5)


needs_bwrap = pytest.mark.skipif(
    shutil.which("bwrap") is None,
    reason="bubblewrap is not installed (scripts/install-system-deps.sh installs it)",
)

HANDLERS = """
import time

def slow(event, context):
    yield "first "
    time.sleep(1)
    yield b"second"

def broken(event, context):
    yield "before "
    raise ValueError("mid-stream")

def endless(event, context):
    while True:
        yield b"x" * 65536
"""


@pytest.fixture
async def pool(tmp_path: Path) -> AsyncIterator[SandboxPool]:
    made = SandboxPool(SandboxLimits(work_dir=tmp_path, idle_seconds=60))
    try:
        yield made
    finally:
        await made.close()


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", HANDLERS)
    return buffer.getvalue()


async def _stream(pool: SandboxPool, handler: str, sink: ChunkSink) -> object:
    spec = SandboxSpec(("t", handler), "python3", f"app.{handler}", 256, 10)

    async def prepare() -> tuple[bytes, dict[str, str]]:
        return _zip(), {}

    request = {"id": "r-1", "event": "{}", "arn": "arn"}
    return await pool.invoke(spec, prepare, request, sink=sink)


@needs_bwrap
async def test_a_generator_handler_streams_from_the_sandbox(pool: SandboxPool) -> None:
    arrived: list[tuple[float, bytes]] = []

    async def sink(piece: bytes) -> None:
        arrived.append((time.monotonic(), piece))

    result = await _stream(pool, "slow", sink)
    ended = time.monotonic()
    assert [p for _, p in arrived] == [b"first ", b"second"]
    assert ended - arrived[0][0] > 0.8  # the first piece came before the handler's sleep
    assert getattr(result, "ok", False) and getattr(result, "payload", None) == b""

    arrived.clear()
    failed = await _stream(pool, "broken", sink)
    assert [p for _, p in arrived] == [b"before "]
    assert getattr(failed, "error_type", None) == "ValueError"


@needs_bwrap
async def test_a_sink_that_cuts_stops_the_sandbox(pool: SandboxPool) -> None:
    got: list[int] = []

    async def sink(piece: bytes) -> None:
        got.append(len(piece))
        if len(got) == 3:
            raise StreamCut(TOO_LARGE, "too large")

    result = await _stream(pool, "endless", sink)
    assert getattr(result, "error_type", None) == TOO_LARGE
    assert got == [65536] * 3
    assert not any(pool._idle.values())  # stopped, not kept warm
