"""CPU per 4 KiB GET or PUT of the whole application in process: no HTTP server, no sockets.

``python -m bench.inprocess [--op get|put] [--plain] [--ops N] [--rounds R] [--objects K]
[--fresh] [--evict KIB] [--profile FILE]`` starts an :class:`andromede.app.Application`
(embedded mode: SQLite, local disk, key file) on a fresh data dir in this process, makes a
bucket of ``K`` (256) objects of 4 KiB, then drives requests signed beforehand straight into
its ASGI callable from 16 concurrent tasks, and prints the CPU time per operation of the
event-loop thread and of the whole process (threads included). PUTs write new keys, as
``python -m bench`` does. ``--plain`` sets the benchmark-only switch that stores blobs
unencrypted.

``--policy`` puts the 20-statement bucket policy of ``bench.policy_overhead`` on the bucket
first: what the policy adds to a request, without HTTP or a load generator in the figure.

``--fresh`` (GET) writes ``K`` new objects before each round and reads those, as
``python -m bench`` and ``bench.cpu_per_op`` do (they GET what their PUT round just wrote, each
object a few times): an object's first reads weigh on the figure; without it every round reads
the same objects, all of them remembered after the warm-up. ``--evict KIB`` writes to every
cache line of a ``KIB`` buffer after each request (its cost counted on both sides alike): in a
server, what shares the cores (the HTTP server, the load generator, other processes) takes the
caches between two requests, which an in-process loop does not see. With ``--profile`` one
round runs under ``cProfile`` with ``time.thread_time`` as its clock (a wall-clock profile on a
shared machine charges other processes' time slices) and its stats are written to FILE.

Run a source tree by putting it first on ``PYTHONPATH``; alternate trees (ABAB) to compare them
under the same load. The access log follows the settings (``ANDROMEDE_ACCESS_LOG=false`` to
leave it out) and goes to a file in the data dir.
"""

from __future__ import annotations

import argparse
import asyncio
import configparser
import contextlib
import cProfile
import logging
import os
import re
import resource
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

from andromede.app import Application
from andromede.logconfig import configure_logging
from andromede.settings import Settings
from bench.policy_overhead import twenty_statements
from bench.sigv4 import Credentials, Signer

REGION = "eu-fr-1"
HOST = "127.0.0.1:9000"
CONCURRENCY = 16
KEYS = 256  # objects read in turn, by default: all of them in every cache
SIZE = 4096

Headers = list[tuple[bytes, bytes]]


def _headers(signed: str, extra: Headers | None = None) -> Headers:
    """The signer's header lines as ASGI headers, plus ``extra``."""
    pairs = [line.split(": ", 1) for line in signed.split("\r\n") if line]
    return [(name.lower().encode(), value.encode()) for name, value in pairs] + (extra or [])


async def _call(
    app: Application, method: str, path: str, body: bytes, headers: Headers, query: str = ""
) -> int:
    """One request through the ASGI callable; its status (the body is counted, not kept)."""
    scope: dict[str, Any] = {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "scheme": "http",
        "server": ("127.0.0.1", 9000),
        "client": ("127.0.0.1", 50000),
        "headers": headers,
    }
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    status = 0

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


@contextlib.contextmanager
def _stderr_to(path: Path) -> Iterator[None]:
    saved = sys.stderr
    with path.open("w") as log:
        sys.stderr = log
        try:
            yield
        finally:
            for handler in logging.getLogger().handlers:
                handler.flush()  # batched lines (logconfig) go to the file, not the terminal
            sys.stderr = saved


async def _run(args: argparse.Namespace, data_dir: Path) -> None:
    settings = Settings(data_dir=data_dir, region=REGION, bench_unencrypted=args.plain, api_port=0)
    configure_logging(settings)
    app = Application(settings)
    await app.start()
    try:
        ini = configparser.ConfigParser()
        ini.read(data_dir / "admin-credentials")
        profile = ini["andromede"]
        signer = Signer(
            Credentials(profile["aws_access_key_id"], profile["aws_secret_access_key"], REGION),
            HOST,
        )
        length = [(b"content-length", str(SIZE).encode())]
        empty = [(b"content-length", b"0")]
        create = _headers(signer.headers("PUT", "/cpu"), empty)
        status = await _call(app, "PUT", "/cpu", b"", create)
        if status != 200:
            raise RuntimeError(f"CreateBucket: {status}")
        if args.policy:
            document = twenty_statements("cpu").encode()
            signed = _headers(
                signer.headers("PUT", "/cpu", "policy="),
                [(b"content-length", str(len(document)).encode())],
            )
            status = await _call(app, "PUT", "/cpu", document, signed, "policy=")
            if status != 204:
                raise RuntimeError(f"PutBucketPolicy: {status}")
        body = os.urandom(SIZE)
        batches = 0

        async def put_objects() -> list[str]:
            nonlocal batches
            batches += 1
            written = [f"/cpu/b{batches}k{i}" for i in range(args.objects)]
            for key in written:
                signed = _headers(signer.headers("PUT", key), length)
                status = await _call(app, "PUT", key, body, signed)
                if status != 200:
                    raise RuntimeError(f"PUT {key}: {status}")
            return written

        keys = await put_objects()
        method, sent = ("GET", b"") if args.op == "get" else ("PUT", body)
        extra = None if args.op == "get" else length

        measured = 0

        async def measure(count: int) -> tuple[float, float, float]:
            nonlocal measured
            measured += 1
            # A PUT writes new keys, as ``python -m bench`` does: overwriting a key with the
            # same body lets SQLite skip rewriting the unchanged plaintext row's pages, which
            # an encrypted row (new ciphertext every time) never can.
            targets = (
                (keys[i % len(keys)] for i in range(count))
                if args.op == "get"
                else (f"/cpu/m{measured}k{i}" for i in range(count))
            )
            requests = [(key, _headers(signer.headers(method, key), extra)) for key in targets]
            queue = iter(requests)

            async def worker() -> None:
                for key, headers in queue:
                    status = await _call(app, method, key, sent, headers)
                    if status != 200:
                        raise RuntimeError(f"{method} {key}: {status}")
                    if evict is not None:
                        evict[::64] = zeros  # a write to each cache line of the buffer

            thread0, usage0, wall0 = time.thread_time(), resource.getrusage(0), time.perf_counter()
            threads0 = _threads_cpu()
            await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
            thread1, usage1, wall1 = time.thread_time(), resource.getrusage(0), time.perf_counter()
            threads1 = _threads_cpu()
            process = (usage1.ru_utime + usage1.ru_stime) - (usage0.ru_utime + usage0.ru_stime)
            by_thread.clear()
            by_thread.update(
                {name: 1e6 * (seconds - threads0.get(name, 0.0)) / count
                 for name, seconds in threads1.items()}
            )  # fmt: skip
            return 1e6 * (thread1 - thread0) / count, 1e6 * process / count, count / (wall1 - wall0)

        by_thread: dict[str, float] = {}
        # --evict: what a server shares its cores with (the HTTP server, the load generator,
        # other processes) takes the caches between two requests; this stands in for it.
        evict = bytearray(args.evict * 1024) if args.evict else None
        zeros = bytes(len(evict[::64])) if evict is not None else b""

        await measure(500)  # warm: imports, caches, the tenant key's first use
        flavour = "plain" if args.plain else "encrypted"
        if args.profile is not None:
            if args.fresh and args.op == "get":
                keys = await put_objects()
            profiler = cProfile.Profile(time.thread_time)
            profiler.enable()
            figures = await measure(args.ops)
            profiler.disable()
            profiler.dump_stats(args.profile)
            print(f"profiled {args.op} {flavour}: loop {figures[0]:.0f} µs/op -> {args.profile}")
            return
        for _ in range(args.rounds):
            if args.fresh and args.op == "get":
                keys = await put_objects()
            loop_us, process_us, rate = await measure(args.ops)
            print(
                f"{args.op} {flavour}: event loop {loop_us:.0f} µs/op, process {process_us:.0f}"
                f" µs/op, {rate:.0f} ops/s",
                flush=True,
            )
            if args.threads:
                shown = sorted(by_thread.items(), key=lambda item: -item[1])
                print("  by thread: " + ", ".join(f"{n} {us:.0f} µs" for n, us in shown if us >= 1))
    finally:
        await app.stop()


def _threads_cpu() -> dict[str, float]:
    """CPU seconds of this process's threads from /proc, summed by their Python name with a
    trailing number folded (``andromede-io_7`` counts as ``andromede-io``): user + system under
    the name, system time alone under the name + `` (sys)``."""
    totals: dict[str, float] = {}
    ticks = os.sysconf("SC_CLK_TCK")
    for thread in threading.enumerate():
        if thread.native_id is None:
            continue
        try:
            stat = Path(f"/proc/self/task/{thread.native_id}/stat").read_text()
        except OSError:  # ended meanwhile
            continue
        fields = stat.rsplit(")", 1)[1].split()
        name = re.sub(r"[-_]?[0-9]+$", "", thread.name) or thread.name
        totals[name] = totals.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / ticks
        system = f"{name} (sys)"
        totals[system] = totals.get(system, 0.0) + int(fields[12]) / ticks
    return totals


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.inprocess", description=__doc__)
    parser.add_argument("--op", choices=("get", "put"), default="get")
    parser.add_argument("--plain", action="store_true", help="the unencrypted bench switch")
    parser.add_argument("--ops", type=int, default=4000, help="operations per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--objects",
        type=int,
        default=KEYS,
        help="objects PUT first (per round with --fresh), then read in turn",
    )
    parser.add_argument(
        "--fresh", action="store_true", help="GET: write new objects before each round, read those"
    )
    parser.add_argument(
        "--evict", type=int, default=0, help="KiB of memory written after each request"
    )
    parser.add_argument("--profile", type=Path, help="write cProfile stats of one round here")
    parser.add_argument(
        "--threads", action="store_true", help="also each thread's CPU per operation, by name"
    )
    parser.add_argument(
        "--policy",
        action="store_true",
        help="put bench.policy_overhead's 20-statement policy on the bucket",
    )
    args = parser.parse_args()
    os.environ.pop("ANDROMEDE_BENCH_UNENCRYPTED", None)  # --plain says it
    with tempfile.TemporaryDirectory(prefix="andromede-inprocess-") as work:
        with _stderr_to(Path(work) / "server.log"):
            asyncio.run(_run(args, Path(work)))


if __name__ == "__main__":
    main()
