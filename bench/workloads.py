"""The S3 workloads, their runner and the statistics drawn from them.

A workload is a fixed operation (PUT, GET or LIST) at a fixed object size and concurrency that
runs until its deadline or its operation cap, whichever comes first. Every response is verified
(status; ETag on PUT; status, length and ETag on GET; key count on LIST) and every failure is
counted by kind, never silently dropped.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import math
import os
import re
import statistics
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol

from bench.client import Connection, Response
from bench.sigv4 import Signer

__all__ = [
    "KIB",
    "MIB",
    "Op",
    "Payload",
    "RunResult",
    "S3Session",
    "ServerProbe",
    "WorkloadResult",
    "WorkloadSpec",
    "fill_bucket",
    "run_workload",
    "summarise",
]

KIB = 1 << 10
MIB = 1 << 20
_EMPTY_MD5 = hashlib.md5(b"", usedforsecurity=False).hexdigest()
_CODE = re.compile(rb"<Code>([^<]{1,64})</Code>")


class Op(Enum):
    PUT = "PUT"
    GET = "GET"
    LIST = "LIST"


@dataclass(frozen=True)
class WorkloadSpec:
    """One workload: what to do, how hard, and for how long at most."""

    name: str
    op: Op
    size: int
    concurrency: int
    duration_s: float
    max_ops: int
    timeout_s: float = 30.0


@dataclass(frozen=True)
class Payload:
    """An object body and its expected (unquoted) ETag, made once per run."""

    data: bytes
    md5: str

    @classmethod
    def random(cls, size: int) -> Payload:
        data = os.urandom(size)
        return cls(data, hashlib.md5(data, usedforsecurity=False).hexdigest())


class ServerProbe(Protocol):
    """Reads the server's resource use: CPU seconds and resident memory of its processes."""

    def cpu_seconds(self) -> float: ...

    def rss_bytes(self) -> int: ...


@dataclass(frozen=True)
class RunResult:
    """One repetition of a workload."""

    ops: int
    payload_bytes: int
    elapsed_s: float
    latencies_ms: tuple[float, ...]
    errors: dict[str, int]
    client_cpu_s: float
    server_cpu_s: float | None
    max_rss_bytes: int | None
    cpu_s_by_part: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class WorkloadResult:
    """The summary over a workload's repetitions: medians of rates, percentiles pooled."""

    spec: WorkloadSpec
    repeats: int
    ops: int
    ops_s: float
    mib_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    error_kinds: dict[str, int]
    client_cpu_pct: float
    server_cpu_ms_per_op: float | None
    max_rss_mib: float | None
    runs: tuple[RunResult, ...] = field(repr=False)
    # CPU time of each named part over the runs' wall time: how many cores it kept busy.
    cores_by_part: dict[str, float] = field(default_factory=dict)


@dataclass
class S3Session:
    """Builds signed request heads for one endpoint (path-style addressing)."""

    signer: Signer
    host: str
    port: int

    def connection(self) -> Connection:
        return Connection(self.host, self.port)

    def head(self, method: str, path: str, query: str = "", length: int | None = None) -> bytes:
        target = f"{path}?{query}" if query else path
        extra = f"Content-Length: {length}\r\n" if length is not None else ""
        return (
            f"{method} {target} HTTP/1.1\r\n{self.signer.headers(method, path, query)}{extra}\r\n"
        ).encode()

    async def create_bucket(self, conn: Connection, bucket: str) -> None:
        region = self.signer.credentials.region
        body = b""
        if region != "us-east-1":
            body = (
                '<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
                f"<LocationConstraint>{region}</LocationConstraint></CreateBucketConfiguration>"
            ).encode()
        response = await conn.request(self.head("PUT", f"/{bucket}", length=len(body)), body)
        if response.status != 200:
            raise RuntimeError(f"CreateBucket {bucket}: {_describe(response)}")

    async def put_bucket_encryption(self, conn: Connection, bucket: str, algorithm: str) -> None:
        """The bucket's default encryption (``aws:kms``, ``aws:kms:dsse``: the account's
        AWS-managed S3 key), so that the workloads' plain PUTs take it."""
        body = (
            "<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault>"
            f"<SSEAlgorithm>{algorithm}</SSEAlgorithm></ApplyServerSideEncryptionByDefault>"
            "</Rule></ServerSideEncryptionConfiguration>"
        ).encode()
        md5 = base64.b64encode(hashlib.md5(body, usedforsecurity=False).digest()).decode()
        # The canonical query of a valueless parameter is "name=": sent as signed.
        head = self.head("PUT", f"/{bucket}", "encryption=", length=len(body))
        # Content-MD5 is not a signed header: it goes after the signed ones.
        head = head[:-2] + f"Content-MD5: {md5}\r\n\r\n".encode()
        response = await conn.request(head, body)
        if response.status != 200:
            raise RuntimeError(f"PutBucketEncryption {bucket}: {_describe(response)}")


def _describe(response: Response) -> str:
    match = _CODE.search(response.body)
    code = match.group(1).decode("latin-1") if match else ""
    return f"HTTP {response.status} {code}".rstrip()


def _etag(response: Response) -> str:
    return response.headers.get("etag", "").strip('"').lower()


def _check(spec: WorkloadSpec, payload: Payload, response: Response, list_keys: int) -> str:
    """The kind of failure this response shows, or '' when it is right."""
    if response.status != 200:
        return _describe(response)
    if spec.op is Op.PUT and _etag(response) != payload.md5:
        return "PUT ETag mismatch"
    if spec.op is Op.GET:
        if response.length != spec.size:
            return "GET length mismatch"
        if _etag(response) != payload.md5:
            return "GET ETag mismatch"
    if spec.op is Op.LIST and response.body.count(b"<Key>") != list_keys:
        return "LIST key count mismatch"
    return ""


def _percentile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an ascending sequence (nan when empty)."""
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


async def _sample_rss(probe: ServerProbe, peak: list[int], stop: asyncio.Event) -> None:
    while not stop.is_set():
        peak[0] = max(peak[0], probe.rss_bytes())
        try:
            await asyncio.wait_for(stop.wait(), 0.05)
        except TimeoutError:
            pass


def _spread(session: S3Session | Sequence[S3Session]) -> Sequence[S3Session]:
    return [session] if isinstance(session, S3Session) else session


async def run_workload(
    session: S3Session | Sequence[S3Session],
    spec: WorkloadSpec,
    *,
    bucket: str,
    payload: Payload,
    key_prefix: str = "",
    keys: Sequence[str] = (),
    list_keys: int = 0,
    probe: ServerProbe | None = None,
    sample_rss: bool = False,
    parts: Mapping[str, ServerProbe] | None = None,
) -> tuple[RunResult, list[str]]:
    """Run one repetition; returns its result and the keys written (for a later GET).

    Given several sessions (one per gateway), connection ``i`` goes to gateway ``i mod n``.
    ``parts`` are processes whose CPU time is measured apart, by name.
    """
    sessions = _spread(session)
    written: list[str] = []
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    next_index = 0
    body_view = memoryview(payload.data)
    list_query = "list-type=2&max-keys=1000"
    if spec.op is Op.GET and not keys:
        raise ValueError(f"{spec.name}: no keys to read")
    deadline = time.perf_counter() + spec.duration_s

    def next_op() -> int | None:
        nonlocal next_index
        if next_index >= spec.max_ops or time.perf_counter() >= deadline:
            return None
        next_index += 1
        return next_index - 1

    async def worker(session: S3Session) -> None:
        conn = session.connection()
        try:
            while (index := next_op()) is not None:
                key = ""
                if spec.op is Op.PUT:
                    key = f"{key_prefix}{index:08d}"
                    head = session.head("PUT", f"/{bucket}/{key}", length=spec.size)
                elif spec.op is Op.GET:
                    head = session.head("GET", f"/{bucket}/{keys[index % len(keys)]}")
                else:
                    head = session.head("GET", f"/{bucket}", list_query)
                started = time.perf_counter()
                try:
                    async with asyncio.timeout(spec.timeout_s):
                        response = await conn.request(
                            head,
                            body_view if spec.op is Op.PUT else b"",
                            keep_body=spec.op is Op.LIST,
                        )
                except Exception as exc:  # every failure is counted by kind, none stops the run
                    conn.close()
                    errors[type(exc).__name__] += 1
                    continue
                failure = _check(spec, payload, response, list_keys)
                if failure:
                    errors[failure] += 1
                    continue
                latencies.append((time.perf_counter() - started) * 1000.0)
                if key:
                    written.append(key)
        finally:
            conn.close()

    stop = asyncio.Event()
    peak = [0]
    sampler = (
        asyncio.create_task(_sample_rss(probe, peak, stop))
        if probe is not None and sample_rss
        else None
    )
    parts = parts or {}
    cpu_before = time.process_time()
    server_before = probe.cpu_seconds() if probe is not None else 0.0
    parts_before = {name: part.cpu_seconds() for name, part in parts.items()}
    started = time.perf_counter()
    try:
        await asyncio.gather(
            *(worker(sessions[i % len(sessions)]) for i in range(spec.concurrency))
        )
    finally:
        stop.set()
        if sampler is not None:
            await sampler
    elapsed = time.perf_counter() - started
    result = RunResult(
        ops=len(latencies),
        payload_bytes=len(latencies) * spec.size,
        elapsed_s=elapsed,
        latencies_ms=tuple(latencies),
        errors=dict(errors),
        client_cpu_s=time.process_time() - cpu_before,
        server_cpu_s=probe.cpu_seconds() - server_before if probe is not None else None,
        max_rss_bytes=peak[0] if sampler is not None else None,
        cpu_s_by_part={
            name: part.cpu_seconds() - parts_before[name] for name, part in parts.items()
        },
    )
    return result, written


async def fill_bucket(
    session: S3Session | Sequence[S3Session], bucket: str, count: int, concurrency: int
) -> int:
    """Write `count` empty objects for the LIST workload; returns how many failed."""
    sessions = _spread(session)
    failures = 0
    remaining = iter(range(count))

    async def worker(session: S3Session) -> None:
        nonlocal failures
        conn = session.connection()
        try:
            for index in remaining:
                head = session.head("PUT", f"/{bucket}/key-{index:06d}", length=0)
                try:
                    response = await conn.request(head)
                except Exception:
                    conn.close()
                    failures += 1
                    continue
                if response.status != 200 or _etag(response) != _EMPTY_MD5:
                    failures += 1
        finally:
            conn.close()

    await asyncio.gather(*(worker(sessions[i % len(sessions)]) for i in range(concurrency)))
    return failures


def summarise(spec: WorkloadSpec, runs: Sequence[RunResult]) -> WorkloadResult:
    """Medians of per-run rates; latency percentiles over all runs' samples pooled."""
    pooled = sorted(latency for run in runs for latency in run.latencies_ms)
    errors: Counter[str] = Counter()
    for run in runs:
        errors.update(run.errors)
    elapsed = sum(run.elapsed_s for run in runs)
    ops = sum(run.ops for run in runs)
    server_cpu = [run.server_cpu_s for run in runs if run.server_cpu_s is not None]
    rss = [run.max_rss_bytes for run in runs if run.max_rss_bytes is not None]
    part_cpu: dict[str, float] = {}
    for run in runs:
        for name, cpu_s in run.cpu_s_by_part.items():
            part_cpu[name] = part_cpu.get(name, 0.0) + cpu_s
    return WorkloadResult(
        spec=spec,
        repeats=len(runs),
        ops=ops,
        ops_s=statistics.median(run.ops / run.elapsed_s for run in runs),
        mib_s=statistics.median(run.payload_bytes / MIB / run.elapsed_s for run in runs),
        p50_ms=_percentile(pooled, 0.50),
        p99_ms=_percentile(pooled, 0.99),
        errors=sum(errors.values()),
        error_kinds=dict(errors),
        client_cpu_pct=100.0 * sum(run.client_cpu_s for run in runs) / elapsed,
        server_cpu_ms_per_op=1000.0 * sum(server_cpu) / ops if server_cpu and ops else None,
        max_rss_mib=max(rss) / MIB if rss else None,
        runs=tuple(runs),
        cores_by_part={name: cpu / elapsed for name, cpu in part_cpu.items()} if elapsed else {},
    )
