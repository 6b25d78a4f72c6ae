"""The load generator spreads its connections over every gateway of a target, and measures the
CPU of the named processes apart."""

from __future__ import annotations

import asyncio
import os
from collections import Counter

from bench.sigv4 import Credentials, Signer
from bench.targets import ProcessTree
from bench.workloads import KIB, Op, Payload, S3Session, WorkloadSpec, run_workload

PAYLOAD = Payload.random(4 * KIB)


async def _gateway(name: str, connections: Counter[str], requests: Counter[str]) -> asyncio.Server:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections[name] += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                await reader.readexactly(length)
                requests[name] += 1
                writer.write(
                    b'HTTP/1.1 200 OK\r\nETag: "%s"\r\nContent-Length: 0\r\n\r\n'
                    % PAYLOAD.md5.encode()
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


async def test_connections_alternate_over_the_gateways_and_parts_are_measured() -> None:
    connections: Counter[str] = Counter()
    requests: Counter[str] = Counter()
    servers = [await _gateway(name, connections, requests) for name in ("one", "two")]
    credentials = Credentials("AK", "SK", "us-east-1")
    sessions = []
    for server in servers:
        port = server.sockets[0].getsockname()[1]
        sessions.append(S3Session(Signer(credentials, f"127.0.0.1:{port}"), "127.0.0.1", port))
    spec = WorkloadSpec("PUT 4 KiB", Op.PUT, 4 * KIB, 4, 30.0, 40)
    try:
        run, keys = await run_workload(
            sessions,
            spec,
            bucket="b",
            payload=PAYLOAD,
            parts={"this process": ProcessTree([os.getpid()])},
        )
    finally:
        for server in servers:
            server.close()
            await server.wait_closed()
    assert (run.ops, len(keys), run.errors) == (40, 40, {})
    assert connections == {"one": 2, "two": 2}
    assert requests["one"] + requests["two"] == 40 and min(requests.values()) > 0
    assert set(run.cpu_s_by_part) == {"this process"} and run.cpu_s_by_part["this process"] >= 0
