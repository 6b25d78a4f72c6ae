"""Decision 0303's way from a sandbox to the platform's API, against the real ``bwrap``: a
handler reaches ``AWS_ENDPOINT_URL`` (the sandbox's loopback, carried through the relay's
Unix socket to a stand-in gateway) and imports boto3 from the runtime, while the rest of the
network, the gateway's own port included, stays out of reach."""

from __future__ import annotations

import asyncio
import io
import json
import shutil
import zipfile
from pathlib import Path

import pytest

from andromede.functions.api_relay import SANDBOX_ENDPOINT, ApiRelay
from andromede.functions.sandbox import SandboxLimits, SandboxPool, SandboxSpec
from andromede.wiring.functions import runtime_sdk

pytestmark = pytest.mark.skipif(
    shutil.which("bwrap") is None,
    reason="bubblewrap is not installed (scripts/install-system-deps.sh installs it)",
)

HANDLER = """
import os, socket, urllib.request

def handler(event, context):
    import boto3
    with urllib.request.urlopen(os.environ["AWS_ENDPOINT_URL"] + "/probe", timeout=5) as answer:
        body = answer.read().decode()
    reached = {}
    for host, port in [("1.1.1.1", 53), ("127.0.0.1", event["gateway_port"])]:
        try:
            socket.create_connection((host, port), timeout=2).close()
            reached[host] = "connected"
        except OSError as exc:
            reached[host] = type(exc).__name__
    return {"body": body, "endpoint": os.environ["AWS_ENDPOINT_URL"],
            "boto3": boto3.__file__, "reached": reached}
"""


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", HANDLER)
    return buffer.getvalue()


async def test_a_handler_reaches_the_api_and_nothing_else(tmp_path: Path) -> None:
    seen: list[bytes] = []

    async def gateway(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(gateway, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    relay = ApiRelay("0.0.0.0", port, tls=False)  # noqa: S104 — reached on its loopback
    serving = asyncio.create_task(relay.serve())
    while not relay.path.exists():
        await asyncio.sleep(0.01)
    pool = SandboxPool(
        SandboxLimits(work_dir=tmp_path, api_socket=relay.path, runtime_modules=runtime_sdk())
    )

    async def prepare() -> tuple[bytes, dict[str, str]]:
        return _zip(), {"AWS_REGION": "eu-fr-1"}

    try:
        spec = SandboxSpec(("t", "relay"), "python3.11", "app.handler", 512, 30)
        event = json.dumps({"gateway_port": port})
        result = await pool.invoke(spec, prepare, {"id": "r1", "event": event, "arn": "arn:fn"})
        assert result.ok, result
        answer = json.loads(result.payload)
        assert answer["body"] == "hello" and answer["endpoint"] == SANDBOX_ENDPOINT
        assert answer["boto3"].startswith("/var/runtime/boto3/")
        assert answer["reached"]["1.1.1.1"] != "connected"
        assert answer["reached"]["127.0.0.1"] == "ConnectionRefusedError"  # its own loopback
        assert seen and seen[0].startswith(b"GET /probe HTTP/1.1")
    finally:
        await pool.close()
        serving.cancel()
        server.close()
        await asyncio.gather(serving, return_exceptions=True)
    assert not relay.path.parent.exists()
