"""Decision 0350: a streaming handler's calls through the sandbox's API relay reach the gateway
however many connections it holds, within AWS's default 128 MB. The bootstrap used to carry
each connection with two threads made under the sandbox's address-space limit (MemorySize):
with boto3 loaded (some 62 MB), each connection took 16 MB of stacks, or 64 MB more when a
thread's first allocation reserved its own malloc arena; once a thread could not be made the
accepting one died of it, and every later call waited in the listen backlog without ever
reaching the gateway — the e2e's handler that, after its first piece, waited on SQS for
120 s. Against the real ``bwrap``, with a stand-in gateway (HTTP/1.1, kept alive) behind a
real ``ApiRelay``."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import shutil
import zipfile
from pathlib import Path

import pytest

from andromede.functions.api_relay import ApiRelay
from andromede.functions.sandbox import SandboxLimits, SandboxPool, SandboxSpec
from andromede.wiring.functions import runtime_sdk

pytestmark = pytest.mark.skipif(
    shutil.which("bwrap") is None,
    reason="bubblewrap is not installed (scripts/install-system-deps.sh installs it)",
)

HELD = 6  # connections open at once, as an SDK's pool keeps them alive
BIG = 3 * 1024 * 1024  # a body each way, past any socket buffer: written in many rounds

HANDLER = """
import hashlib, json, os, socket
import boto3  # a real function's address space, the SDK loaded

def request(sock, path, body=b""):
    sock.sendall(b"POST %s HTTP/1.1\\r\\nHost: api\\r\\nContent-Length: %d\\r\\n\\r\\n"
                 % (path.encode(), len(body)) + body)

def answer(sock):
    got = b""
    while b"\\r\\n\\r\\n" not in got:
        got += sock.recv(65536) or b"?"  # an end is an error below
        if got.endswith(b"?"):
            raise ConnectionError("closed")
    head, body = got.split(b"\\r\\n\\r\\n", 1)
    length = int(head.split(b"Content-Length: ")[1].split(b"\\r\\n")[0])
    while len(body) < length:
        body += sock.recv(65536) or b"?"
        if body.endswith(b"?"):
            raise ConnectionError("closed")
    return head.split(b"\\r\\n")[0].decode(), body

def handler(event, context):
    return stream(event)

def stream(event):
    yield "first;"
    outcomes = []
    held = []
    try:
        for n in range(event["held"]):
            sock = socket.create_connection(("127.0.0.1", 9001), timeout=5)
            held.append(sock)
            request(sock, "/held/%d" % n)
        for sock in held:  # all in flight at once, then their answers
            outcomes.append(answer(sock)[0])
        for sock in held:  # kept alive: a second request on each
            request(sock, "/again")
            outcomes.append(answer(sock)[0])
        big = bytes(range(256)) * (event["big"] // 256)
        request(held[0], "/big", big)
        status, body = answer(held[0])
        outcomes.append([status, len(body), hashlib.sha256(body).hexdigest()])
    except OSError as exc:
        outcomes.append(repr(exc))
    for sock in held:
        sock.close()
    outcomes.append(os.environ.get("MALLOC_ARENA_MAX"))
    yield json.dumps(outcomes)
"""


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", HANDLER)
    return buffer.getvalue()


async def test_a_streaming_handler_holding_connections_reaches_the_gateway(
    tmp_path: Path,
) -> None:
    paths: list[str] = []
    big = bytes(range(256)) * (BIG // 256)

    async def gateway(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                path = head.split(b" ")[1].decode()
                length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
                body = await reader.readexactly(length)
                paths.append(path)
                reply = big if path == "/big" and body == big else b"{}"
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(reply))
                writer.write(reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(gateway, "127.0.0.1", 0)
    relay = ApiRelay("127.0.0.1", server.sockets[0].getsockname()[1], tls=False)
    serving = asyncio.create_task(relay.serve())
    while not relay.path.exists():
        await asyncio.sleep(0.01)
    pool = SandboxPool(
        SandboxLimits(work_dir=tmp_path, api_socket=relay.path, runtime_modules=runtime_sdk())
    )
    pieces: list[bytes] = []
    calls_before_first_piece: list[int] = []

    async def sink(piece: bytes, content_type: str | None = None) -> None:
        if not pieces:
            calls_before_first_piece.append(len(paths))
        pieces.append(piece)

    async def prepare() -> tuple[bytes, dict[str, str]]:
        return _zip(), {"AWS_REGION": "eu-fr-1"}

    try:
        spec = SandboxSpec(("t", "relay-connections"), "python3.11", "app.handler", 128, 60)
        event = json.dumps({"held": HELD, "big": BIG})
        for run in ("cold", "warm"):  # the warm sandbox's relay still carries them all
            pieces.clear()
            paths.clear()
            calls_before_first_piece.clear()
            result = await pool.invoke(
                spec, prepare, {"id": run, "event": event, "arn": "arn:fn"}, sink=sink
            )
            assert result.ok, result
            assert pieces[0] == b"first;" and calls_before_first_piece == [0]
            outcomes = json.loads(b"".join(pieces[1:]))
            assert outcomes[: 2 * HELD] == ["HTTP/1.1 200 OK"] * (2 * HELD), outcomes
            assert outcomes[2 * HELD] == [
                "HTTP/1.1 200 OK",
                BIG,
                hashlib.sha256(big).hexdigest(),
            ], outcomes
            # One malloc arena: a thread's own 64 MB reservation would leave a 128 MB function
            # no room for the next thread's stack.
            assert outcomes[2 * HELD + 1] == "1"
            assert sorted(paths) == sorted(
                [f"/held/{n}" for n in range(HELD)] + ["/again"] * HELD + ["/big"]
            )
    finally:
        await pool.close()
        serving.cancel()
        server.close()
        await asyncio.gather(serving, return_exceptions=True)
