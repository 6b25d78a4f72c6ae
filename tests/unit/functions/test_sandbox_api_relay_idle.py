"""Decision 0364: the bootstrap's relay in the sandbox closes a connection to the platform's
API that stays idle (no byte either way) for ``lambda_relay_idle_timeout``, both ways — the
handler's socket ends, and so does the gateway's side of it —, while a connection that keeps
talking past that time is kept. Against the real ``bwrap``, with a stand-in gateway behind a
real ``ApiRelay`` given no timeout of its own: what closes the idle one is the sandbox's
side."""

from __future__ import annotations

import asyncio
import io
import json
import shutil
import zipfile
from pathlib import Path

import pytest

from andromede.functions.api_relay import ApiRelay
from andromede.functions.sandbox import SandboxLimits, SandboxPool, SandboxSpec

pytestmark = pytest.mark.skipif(
    shutil.which("bwrap") is None,
    reason="bubblewrap is not installed (scripts/install-system-deps.sh installs it)",
)

IDLE = 2.0  # the relay's idle timeout here, in seconds

HANDLER = """
import socket, time

def handler(event, context):
    idle = socket.create_connection(("127.0.0.1", 9001), timeout=30)  # never says a word
    busy = socket.create_connection(("127.0.0.1", 9001), timeout=30)
    began = time.monotonic()
    answered = 0
    while time.monotonic() - began < event["talk"]:  # past the timeout, never silent long
        busy.sendall(b"GET / HTTP/1.1\\r\\nHost: api\\r\\n\\r\\n")
        got = b""
        while b"\\r\\n\\r\\n" not in got:
            piece = busy.recv(4096)
            if not piece:
                return {"answered": answered, "busy": "closed"}
            got += piece
        answered += 1
        time.sleep(0.2)
    try:
        idle_end = idle.recv(16)
    except OSError as exc:
        idle_end = repr(exc)
    return {"answered": answered, "busy": "open", "idle_end": repr(idle_end),
            "talked": time.monotonic() - began}
"""


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", HANDLER)
    return buffer.getvalue()


async def test_an_idle_connection_is_closed_both_ways_in_the_sandbox(tmp_path: Path) -> None:
    ended: list[tuple[int, float]] = []  # (requests a connection carried, its seconds)

    async def gateway(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        began, served = loop.time(), 0
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                served += 1
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            ended.append((served, loop.time() - began))
            writer.close()

    server = await asyncio.start_server(gateway, "127.0.0.1", 0)
    relay = ApiRelay("127.0.0.1", server.sockets[0].getsockname()[1], tls=False)
    serving = asyncio.create_task(relay.serve())
    while not relay.path.exists():
        await asyncio.sleep(0.01)
    pool = SandboxPool(
        SandboxLimits(work_dir=tmp_path, api_socket=relay.path, relay_idle_timeout=IDLE)
    )

    async def prepare() -> tuple[bytes, dict[str, str]]:
        return _zip(), {"AWS_REGION": "eu-fr-1"}

    try:
        spec = SandboxSpec(("t", "relay-idle"), "python3.11", "app.handler", 128, 60)
        event = json.dumps({"talk": 2.5 * IDLE})
        result = await pool.invoke(spec, prepare, {"id": "idle", "event": event, "arn": "arn:fn"})
        assert result.ok, result
        outcome = json.loads(result.payload)
        # The busy connection carried every request past the timeout; the silent one was
        # closed under the handler (its read ends at once, it had been closed meanwhile).
        assert outcome["busy"] == "open" and outcome["answered"] >= 5, outcome
        assert outcome["idle_end"] in ("b''", repr(repr(ConnectionResetError()))), outcome
        # The gateway's side of the silent one ended too, after the timeout, with no request.
        for _ in range(800):
            if ended:
                break
            await asyncio.sleep(0.025)
        assert ended[0][0] == 0 and IDLE - 0.5 <= ended[0][1] < 20, ended
    finally:
        await pool.close()
        serving.cancel()
        server.close()
        await asyncio.gather(serving, return_exceptions=True)
