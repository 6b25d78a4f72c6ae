"""Command line and orchestration: `python -m bench [--quick] [--targets ...] [--interleave]`.

Targets run one after the other (never two servers at once, so each has both cores), each on a
fresh working directory that is removed afterwards. With `--interleave` every target is started
first and each repetition of each workload runs on every target in turn (bench/schedule.py), so
that a ratio of two targets (`--ratio A/B`) compares runs made under the same machine load.
The RADOS targets (`rgw`, `rgw-x2`, `andromede-rados`, `andromede-rados-w2`,
`andromede-rados-x2`) share one Ceph cluster and one PostgreSQL server, started for the first of
them and stopped at the end of the run (bench/cluster.py). The sequence per target: PUT then GET
of 4 KiB objects at concurrency 16, LIST of a 1,000-key bucket, PUT then GET of 64 MiB objects
at concurrency 4, each repeated; the machine's ceilings are measured first.
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
from bench.schedule import (
    Step,
    TargetRatio,
    paired_ratios,
    run_interleaved,
    run_sequential,
)
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

__all__ = ["Settings", "TargetBench", "bench_interleaved", "bench_sequential", "main"]

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

    def plan(self) -> list[Step]:
        """Each target's steps, in order: PUT then GET of 4 KiB objects per repetition, LIST
        (of a bucket filled before its first run), PUT then GET of 64 MiB objects."""
        steps: list[Step] = []
        for repeat in range(self.repeats):
            steps.append(Step(self.small(Op.PUT), repeat, self.repeats))
            steps.append(Step(self.small(Op.GET), repeat, self.repeats))
        steps += [Step(self.listing(), repeat, self.repeats) for repeat in range(self.repeats)]
        for repeat in range(self.large_repeats):
            steps.append(Step(self.large(Op.PUT), repeat, self.large_repeats, sample_rss=True))
            steps.append(Step(self.large(Op.GET), repeat, self.large_repeats, sample_rss=True))
        return steps


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
        # SSE-KMS and DSSE-KMS (two layers, decision 0075) as the buckets' default, under the
        # account's AWS-managed S3 key: against andromede-uvicorn's SSE-S3.
        "andromede-uvicorn-kms": andromede_target("uvicorn", default_encryption="aws:kms"),
        "andromede-uvicorn-kms-dsse": andromede_target(
            "uvicorn", default_encryption="aws:kms:dsse"
        ),
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


class TargetBench:
    """One running target's side of the plan: its buckets ("bench", "bench-list"), the keys each
    repetition's PUT wrote for the GET of the same repetition, and its runs."""

    def __init__(self, endpoint: Endpoint, payloads: dict[int, Payload], console: Console):
        self.endpoint = endpoint
        self.payloads = payloads
        self.console = console
        self.sessions = endpoint.sessions()
        self.results: list[WorkloadResult] = []
        self.fill_failures = 0
        # workload → repetition → ops/s: the pairs of a ratio between two targets.
        self.repeat_ops_s: dict[str, dict[int, float]] = {}
        self._runs: dict[str, list[RunResult]] = {}
        self._written: dict[tuple[int, int], list[str]] = {}
        self._filled = False

    async def prepare(self) -> None:
        session = self.sessions[0]
        conn = session.connection()
        try:
            for bucket in ("bench", "bench-list"):
                await session.create_bucket(conn, bucket)
                if self.endpoint.default_encryption is not None:
                    await session.put_bucket_encryption(
                        conn, bucket, self.endpoint.default_encryption
                    )
        finally:
            conn.close()

    async def run(self, step: Step) -> None:
        spec = step.spec
        endpoint = self.endpoint
        run: RunResult | None = None
        if spec.op is Op.LIST:
            if not self._filled:
                self.fill_failures = await fill_bucket(self.sessions, "bench-list", LIST_KEYS, 16)
                self._filled = True
            run, _keys = await run_workload(
                self.sessions,
                spec,
                bucket="bench-list",
                payload=self.payloads[0],
                list_keys=LIST_KEYS,
                probe=endpoint.probe,
                sample_rss=step.sample_rss,
                parts=endpoint.parts,
            )
        elif spec.op is Op.PUT:
            run, keys = await run_workload(
                self.sessions,
                spec,
                bucket="bench",
                payload=self.payloads[spec.size],
                key_prefix=f"{spec.size}/{step.repeat}/",
                probe=endpoint.probe,
                sample_rss=step.sample_rss,
                parts=endpoint.parts,
            )
            self._written[(spec.size, step.repeat)] = keys
        else:
            # A GET reads what this target's PUT of the same size and repetition wrote; none
            # written, no GET (the PUT's errors say why).
            keys = self._written.pop((spec.size, step.repeat), [])
            if keys:
                run, _keys = await run_workload(
                    self.sessions,
                    spec,
                    bucket="bench",
                    payload=self.payloads[spec.size],
                    keys=keys,
                    probe=endpoint.probe,
                    sample_rss=step.sample_rss,
                    parts=endpoint.parts,
                )
        runs = self._runs.setdefault(spec.name, [])
        if run is not None:
            runs.append(run)
            ops_s = run.ops / run.elapsed_s if run.elapsed_s > 0 else 0.0
            self.repeat_ops_s.setdefault(spec.name, {})[step.repeat] = ops_s
        if step.last and runs:
            self._report(spec, runs)

    def _report(self, spec: WorkloadSpec, runs: list[RunResult]) -> None:
        summary = summarise(spec, runs)
        self.results.append(summary)
        self.console.print(
            f"  {self.endpoint.name:<18} {spec.name:<16} {summary.ops_s:10,.1f} ops/s "
            f"{summary.mib_s:9,.1f} MiB/s  p50 {summary.p50_ms:8.2f} ms  "
            f"p99 {summary.p99_ms:8.2f} ms  errors {summary.errors}  "
            f"client CPU {summary.client_cpu_pct:.0f} %"
        )

    def result(self, load_average: tuple[float, float]) -> TargetResult:
        endpoint = self.endpoint
        return TargetResult(
            endpoint.name,
            endpoint.description,
            endpoint.fsync,
            tuple(self.results),
            list_fill_failures=self.fill_failures,
            load_average=load_average,
        )


def bench_sequential(
    factories: dict[str, TargetFactory],
    work_dir: Path,
    plan: Sequence[Step],
    payloads: dict[int, Payload],
    console: Console,
    keep: bool,
) -> tuple[list[TargetResult], dict[str, TargetBench]]:
    """One target after the other, each started, measured through the plan and stopped."""
    targets: list[TargetResult] = []
    benches: dict[str, TargetBench] = {}
    for name, factory in factories.items():
        target_dir = work_dir / name
        target_dir.mkdir()
        console.print(f"starting {name} ...")
        try:
            with factory(target_dir) as endpoint:
                # The machine is shared: its load says how far to trust the figures.
                load_before = os.getloadavg()[0]
                bench = TargetBench(endpoint, payloads, console)
                _run(run_sequential(plan, bench))
                benches[name] = bench
                targets.append(bench.result((load_before, os.getloadavg()[0])))
        except (StartupError, RuntimeError, OSError) as exc:
            console.print(f"[red]{name}: {exc}[/red]")
            targets.append(TargetResult(name, "", fsync=False, failure=str(exc)))
        finally:
            if not keep:
                shutil.rmtree(target_dir, ignore_errors=True)
    return targets, benches


def bench_interleaved(
    factories: dict[str, TargetFactory],
    work_dir: Path,
    plan: Sequence[Step],
    payloads: dict[int, Payload],
    console: Console,
) -> tuple[list[TargetResult], dict[str, TargetBench]]:
    """Every target started first, then each repetition of each workload on every target in
    turn; the servers stop together at the end. An idle server takes next to no CPU."""
    failed: dict[str, TargetResult] = {}
    benches: dict[str, TargetBench] = {}
    with contextlib.ExitStack() as running:
        for name, factory in factories.items():
            target_dir = work_dir / name
            target_dir.mkdir()
            console.print(f"starting {name} ...")
            try:
                endpoint = running.enter_context(factory(target_dir))
            except (StartupError, RuntimeError, OSError) as exc:
                console.print(f"[red]{name}: {exc}[/red]")
                failed[name] = TargetResult(name, "", fsync=False, failure=str(exc))
            else:
                benches[name] = TargetBench(endpoint, payloads, console)
        console.print(f"interleaving {', '.join(benches)}, each workload repetition in turn")
        load_before = os.getloadavg()[0]
        failures = _run(run_interleaved(plan, benches))
        load_average = (load_before, os.getloadavg()[0])
    for name, failure in failures.items():
        console.print(f"[red]{name}: {failure}[/red]")
        failed[name] = TargetResult(name, "", fsync=False, failure=str(failure))
    targets = [
        failed[name] if name in failed else benches[name].result(load_average) for name in factories
    ]
    return targets, {name: bench for name, bench in benches.items() if name not in failed}


def _ratio(
    spec: str | None, names: Sequence[str], benches: dict[str, TargetBench]
) -> TargetRatio | None:
    if spec is None:
        return None
    numerator, denominator = _ratio_names(spec, names)
    if numerator not in benches or denominator not in benches:
        return TargetRatio(numerator, denominator, ())
    return TargetRatio(
        numerator,
        denominator,
        tuple(paired_ratios(benches[numerator].repeat_ops_s, benches[denominator].repeat_ops_s)),
    )


def _ratio_names(spec: str, names: Sequence[str]) -> tuple[str, str]:
    numerator, _, denominator = spec.partition("/")
    if numerator not in names or denominator not in names or numerator == denominator:
        raise SystemExit(f"--ratio {spec}: expected A/B, two different targets of --targets")
    return numerator, denominator


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
    parser.add_argument(
        "--interleave",
        action="store_true",
        help="start every target first, then run each workload repetition on every target in "
        "turn, the order reversed on odd repetitions (A B, B A, ...)",
    )
    parser.add_argument(
        "--ratio",
        metavar="A/B",
        help="print and record A's ops/s ÷ B's per workload: the median of the ratios of each "
        "repetition's pair (back to back with --interleave)",
    )
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
    if args.ratio is not None:
        _ratio_names(args.ratio, names)  # a typo fails now, not after the run
    shutil.rmtree(work_dir, ignore_errors=True)
    work_dir.mkdir(parents=True)
    try:
        console.print("measuring the machine's ceilings ...")
        ceilings = measure_ceilings(work_dir / "ceilings")
        payloads = {size: Payload.random(size) for size in (0, 4 * KIB, 64 * MIB)}
        if args.interleave:
            targets, benches = bench_interleaved(
                factories, work_dir, settings.plan(), payloads, console
            )
        else:
            targets, benches = bench_sequential(
                factories, work_dir, settings.plan(), payloads, console, args.keep
            )
    except KeyboardInterrupt:
        console.print("[red]interrupted; every server started was stopped[/red]")
        return 130
    finally:
        cluster.close()
        if not args.keep:
            shutil.rmtree(work_dir, ignore_errors=True)
    elapsed = time.perf_counter() - started
    ratio = _ratio(args.ratio, names, benches)
    print_report(console, targets, ceilings, elapsed, interleaved=args.interleave, ratio=ratio)
    document = to_json(
        targets,
        ceilings,
        started=started_at,
        elapsed_s=elapsed,
        settings={"quick": args.quick, **settings.__dict__, "targets": list(factories)},
        interleaved=args.interleave,
        ratio=ratio,
    )
    write_json(document, args.output)
    console.print(f"results written to {args.output}")
    return 1 if any(t.failure or any(w.errors for w in t.workloads) for t in targets) else 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
