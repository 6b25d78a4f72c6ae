"""Command line and orchestration: `python -m bench [--quick] [--targets ...]`.

Targets run one after the other (never two servers at once, so each has both cores), each on a
fresh working directory that is removed afterwards. The RADOS targets (`rgw`, `rgw-x2`,
`andromede-rados`, `andromede-rados-w2`, `andromede-rados-x2`) share one Ceph cluster and one
PostgreSQL server, started for the first of them and stopped at the end of the run
(bench/cluster.py). The sequence per target: PUT then GET of 4 KiB objects at concurrency 16,
LIST of a 1,000-key bucket, PUT then GET of 64 MiB objects at concurrency 4, each repeated; the
machine's ceilings are measured first.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import functools
import os
import shutil
import signal
import sys
import time
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

from rich.console import Console

from bench.andromede_rados import andromede_rados_target
from bench.ceilings import measure_ceilings
from bench.cluster import LazyCluster
from bench.report import TargetResult, print_report, to_json, write_json
from bench.rgw import rgw_target
from bench.swift import swift_target
from bench.targets import Endpoint, StartupError, TargetFactory, andromede_target, moto_target
from bench.workloads import (
    KIB,
    MIB,
    Op,
    Payload,
    RunResult,
    WorkloadResult,
    WorkloadSpec,
    fill_bucket,
    run_workload,
    summarise,
)

__all__ = ["Settings", "main"]

BENCH_DIR = Path(__file__).resolve().parent
PEERS_DIR = BENCH_DIR / ".peers"
DEFAULT_OUTPUT = BENCH_DIR / "results" / "latest.json"
ALL_TARGETS = ("moto", "swift", "andromede-uvicorn", "andromede-granian")
LIST_KEYS = 1000
T = TypeVar("T")


@dataclass(frozen=True)
class Settings:
    """How long and how hard each workload runs."""

    small_seconds: float
    list_seconds: float
    large_seconds: float
    large_ops: int
    repeats: int
    large_repeats: int

    @classmethod
    def preset(cls, quick: bool) -> Settings:
        if quick:
            return cls(1.5, 1.0, 10.0, 8, 1, 1)
        return cls(3.0, 2.0, 20.0, 8, 3, 3)

    def small(self, op: Op) -> WorkloadSpec:
        return WorkloadSpec(f"{op.value} 4 KiB", op, 4 * KIB, 16, self.small_seconds, 1_000_000)

    def large(self, op: Op) -> WorkloadSpec:
        return WorkloadSpec(
            f"{op.value} 64 MiB", op, 64 * MIB, 4, self.large_seconds, self.large_ops, 180.0
        )

    def listing(self) -> WorkloadSpec:
        return WorkloadSpec(f"LIST {LIST_KEYS:,} keys", Op.LIST, 0, 4, self.list_seconds, 100_000)


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run on uvloop when it is installed: the load generator's CPU is part of the budget."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    result: T = uvloop.run(coroutine)
    return result


def _factories(names: Sequence[str], cluster: LazyCluster) -> dict[str, TargetFactory]:
    known: dict[str, TargetFactory] = {
        "moto": moto_target,
        "swift": functools.partial(swift_target, venv=PEERS_DIR / "swift-venv"),
        "andromede-uvicorn": andromede_target("uvicorn"),
        "andromede-granian": andromede_target("granian"),
        # The cost of encryption at rest: the same server with the bench-only switch off.
        "andromede-uvicorn-plain": andromede_target("uvicorn", encrypted=False),
        "andromede-granian-plain": andromede_target("granian", encrypted=False),
        # Ceph RGW and andromede on PostgreSQL + RADOS, on one shared cluster; -x2: two
        # gateway processes each, the load spread over both.
        "rgw": rgw_target(cluster, gateways=1),
        "rgw-x2": rgw_target(cluster, gateways=2),
        "andromede-rados": andromede_rados_target(cluster, gateways=1),
        "andromede-rados-w2": andromede_rados_target(cluster, gateways=1, workers=2),
        # Small objects in their PostgreSQL rows (decision 0028), as a one-jurisdiction
        # deployment would run; the targets above keep every byte in RADOS.
        "andromede-rados-inline": andromede_rados_target(cluster, gateways=1, inline=True),
        "andromede-rados-inline-w2": andromede_rados_target(
            cluster, gateways=1, workers=2, inline=True
        ),
        "andromede-rados-inline-x2": andromede_rados_target(cluster, gateways=2, inline=True),
        "andromede-rados-x2": andromede_rados_target(cluster, gateways=2),
    }
    unknown = [name for name in names if name not in known]
    if unknown:
        raise SystemExit(f"unknown targets {unknown}; known: {', '.join(known)}")
    return {name: known[name] for name in names}


async def _bench_target(
    endpoint: Endpoint,
    settings: Settings,
    payloads: dict[int, Payload],
    console: Console,
) -> tuple[list[WorkloadResult], int]:
    sessions = endpoint.sessions()
    session = sessions[0]
    conn = session.connection()
    try:
        for bucket in ("bench", "bench-list"):
            await session.create_bucket(conn, bucket)
    finally:
        conn.close()

    results: list[WorkloadResult] = []

    def report(spec: WorkloadSpec, runs: list[RunResult]) -> None:
        summary = summarise(spec, runs)
        results.append(summary)
        console.print(
            f"  {endpoint.name:<18} {spec.name:<16} {summary.ops_s:10,.1f} ops/s "
            f"{summary.mib_s:9,.1f} MiB/s  p50 {summary.p50_ms:8.2f} ms  "
            f"p99 {summary.p99_ms:8.2f} ms  errors {summary.errors}  "
            f"client CPU {summary.client_cpu_pct:.0f} %"
        )

    async def put_get(put: WorkloadSpec, get: WorkloadSpec, repeats: int, rss: bool) -> None:
        put_runs: list[RunResult] = []
        get_runs: list[RunResult] = []
        payload = payloads[put.size]
        for repeat in range(repeats):
            run, keys = await run_workload(
                sessions,
                put,
                bucket="bench",
                payload=payload,
                key_prefix=f"{put.size}/{repeat}/",
                probe=endpoint.probe,
                sample_rss=rss,
                parts=endpoint.parts,
            )
            put_runs.append(run)
            if keys:
                run, _ = await run_workload(
                    sessions,
                    get,
                    bucket="bench",
                    payload=payload,
                    keys=keys,
                    probe=endpoint.probe,
                    sample_rss=rss,
                    parts=endpoint.parts,
                )
                get_runs.append(run)
        report(put, put_runs)
        if get_runs:
            report(get, get_runs)

    await put_get(settings.small(Op.PUT), settings.small(Op.GET), settings.repeats, rss=False)
    fill_failures = await fill_bucket(sessions, "bench-list", LIST_KEYS, 16)
    listing = settings.listing()
    list_runs = []
    for _ in range(settings.repeats):
        run, _keys = await run_workload(
            sessions,
            listing,
            bucket="bench-list",
            payload=payloads[0],
            list_keys=LIST_KEYS,
            probe=endpoint.probe,
            parts=endpoint.parts,
        )
        list_runs.append(run)
    report(listing, list_runs)
    await put_get(settings.large(Op.PUT), settings.large(Op.GET), settings.large_repeats, rss=True)
    return results, fill_failures


def _terminate(signum: int, frame: FrameType | None) -> None:
    # Turn SIGTERM into the same unwinding as Ctrl-C, so every server is stopped.
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="about a minute in all")
    parser.add_argument(
        "--targets",
        default=",".join(ALL_TARGETS),
        help=f"comma-separated, in run order (default: {','.join(ALL_TARGETS)})",
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="JSON results path")
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=PEERS_DIR / "run",
        help="servers' data and logs; must be on the disk under test",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work dir (logs, data)")
    parser.add_argument("--repeats", type=int, help="override the preset's repeat count")
    args = parser.parse_args(argv)
    settings = Settings.preset(args.quick)
    if args.repeats:
        settings = Settings(
            settings.small_seconds,
            settings.list_seconds,
            settings.large_seconds,
            settings.large_ops,
            args.repeats,
            args.repeats,
        )
    console = Console()
    if not console.is_terminal:
        # Piped to a file or a CI log: do not squeeze the table to the default 80 columns.
        console = Console(width=200)
    signal.signal(signal.SIGTERM, _terminate)
    started_at = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    started = time.perf_counter()
    work_dir: Path = args.work_dir.resolve()
    cluster = LazyCluster(work_dir / "cluster")
    names = [name.strip() for name in args.targets.split(",") if name.strip()]
    factories = _factories(names, cluster)
    shutil.rmtree(work_dir, ignore_errors=True)
    work_dir.mkdir(parents=True)
    targets: list[TargetResult] = []
    try:
        console.print("measuring the machine's ceilings ...")
        ceilings = measure_ceilings(work_dir / "ceilings")
        payloads = {size: Payload.random(size) for size in (0, 4 * KIB, 64 * MIB)}
        for name, factory in factories.items():
            target_dir = work_dir / name
            target_dir.mkdir()
            console.print(f"starting {name} ...")
            try:
                with factory(target_dir) as endpoint:
                    # The machine is shared: its load says how far to trust the figures.
                    load_before = os.getloadavg()[0]
                    workloads, fill_failures = _run(
                        _bench_target(endpoint, settings, payloads, console)
                    )
                    targets.append(
                        TargetResult(
                            endpoint.name,
                            endpoint.description,
                            endpoint.fsync,
                            tuple(workloads),
                            list_fill_failures=fill_failures,
                            load_average=(load_before, os.getloadavg()[0]),
                        )
                    )
            except (StartupError, RuntimeError, OSError) as exc:
                console.print(f"[red]{name}: {exc}[/red]")
                targets.append(TargetResult(name, "", fsync=False, failure=str(exc)))
            finally:
                if not args.keep:
                    shutil.rmtree(target_dir, ignore_errors=True)
    except KeyboardInterrupt:
        console.print("[red]interrupted; every server started was stopped[/red]")
        return 130
    finally:
        cluster.close()
        if not args.keep:
            shutil.rmtree(work_dir, ignore_errors=True)
    elapsed = time.perf_counter() - started
    print_report(console, targets, ceilings, elapsed)
    document = to_json(
        targets,
        ceilings,
        started=started_at,
        elapsed_s=elapsed,
        settings={"quick": args.quick, **settings.__dict__, "targets": list(factories)},
    )
    write_json(document, args.output)
    console.print(f"results written to {args.output}")
    return 1 if any(t.failure or any(w.errors for w in t.workloads) for t in targets) else 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
