"""Server CPU per 4 KiB PUT and GET, encrypted against the bench-only plaintext switch.

``python -m bench.cpu_per_op [--rounds N] [--seconds S] [--profile DIR]`` starts two
``andromede serve`` (uvicorn, one worker process each, fresh data dirs): one encrypted, one
with ``ANDROMEDE_BENCH_UNENCRYPTED=1``. Both run at once and the rounds alternate between them
(ABBA), so the shared machine's load falls on both alike. Each round runs PUT 4 KiB then
GET 4 KiB at concurrency 16 against one server and reads that server's CPU time (utime + stime
of its processes, from /proc) before and after: CPU milliseconds per operation is steady on a
busy machine where ops/s is not. It prints the medians per target and the encrypted ÷ plain
ratios.

``--baseline SRC`` adds the same two servers run from another source tree (``SRC`` is put
first on their ``PYTHONPATH``, e.g. an unpacked ``git archive`` of main's ``src``): four
servers, rounds interleaved over all four, so a change is measured before and after under the
same load.

``--size BYTES`` changes the objects' size (default 4 KiB); ``--size 0`` measures a GET that
reads no blob and decrypts nothing (only the metadata read and the S3 layer).

``--rados`` measures the distributed mode instead: one gateway of one worker on PostgreSQL +
RADOS (bench/andromede_rados.py) per source tree, encrypted, on one shared single-node Ceph
cluster and PostgreSQL (bench/cluster.py) that the run starts and removes; each tree writes
to a pool of its own.

``--hot N`` makes each GET run read only the first ``N`` objects its PUT run wrote, each many
times (the shape of ``bench.inprocess``), instead of all of them a few times each (the shape of
``python -m bench``): the difference is what an object's first reads cost.

``--threads`` also prints, per target, the worker's CPU per GET split by thread (its threads'
names from ``/proc/<pid>/task/*/comm``, numbered ones grouped: the event loop, librados'
messenger and finisher threads, the I/O pool...), medians over the rounds: where a GET's CPU
goes without a sampler's bias (py-spy counts a thread waiting in native code as busy).
With ``--rados --workers 1,2`` each tree gets one gateway per worker count (``rados``,
``rados-w2``), interleaved like the trees; ``--threads`` then sums the workers' threads and also
prints each worker process's CPU per GET, its system part, its context switches per GET and
how many of the 16 connections it held (``ss``, mid-run): why two workers cost what they do.

``--time-functions SPEC`` times named functions inside every server (``module:name`` or
``module:Class.method``, comma-separated; ``bench/timing_hook``): the calls and the thread
CPU per call over the whole run (warm-up round included), printed per target. Unlike a
sampler it charges a function exactly, native calls included, and unlike ``bench.inprocess``
it runs in the server under the benchmark's load, where the GIL's hand-offs to the database
writer and the request's cold caches are (decision 0036). A coroutine is timed from call to
return: right for one that does not suspend (the embedded default's metadata reads and key
service run inline).

``--profile DIR`` adds, after the measured rounds, one PUT and one GET run per target under
``py-spy record --format raw`` (collapsed stacks, one file per target and operation, with the
number of operations they cover beside it in ``<target>-<op>.ops``) on the worker process;
those runs are not counted, py-spy's sampling slows the process it samples.
With ``--perf`` one more PUT and GET run per target are recorded by ``perf record -g -e
cpu-clock`` (``DIR/<target>-<op>.perf``, read with ``perf report -i``, and the operations they
cover in ``<target>-<op>.perf.ops``): native frames and the kernel, which
py-spy does not see (the GIL's hand-offs, socket system calls, librados).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from bench.andromede_rados import andromede_rados_target
from bench.client import Connection
from bench.cluster import ANDROMEDE_POOL, LazyCluster
from bench.targets import Endpoint, TargetFactory, andromede_target, restored_environment
from bench.workloads import KIB, Op, Payload, S3Session, WorkloadSpec, run_workload

BUCKET = "cpu"
TIMING_HOOK = Path(__file__).resolve().parent / "timing_hook"
_TIMING_VARIABLES = ("ANDROMEDE_TIME_FUNCTIONS", "ANDROMEDE_TIME_FUNCTIONS_DIR")
TARGETS = ("encrypted", "plain")
RADOS_TARGETS = ("rados",)
_BASELINE_POOL = f"{ANDROMEDE_POOL}-baseline"


def _pool(baseline: bool, workers: int) -> str:
    """A pool per gateway: each one's sweeper takes another's blobs for orphans."""
    return (_BASELINE_POOL if baseline else ANDROMEDE_POOL) + (
        f"-w{workers}" if workers > 1 else ""
    )


def _factory(
    flavour: str, baseline: bool, cluster: LazyCluster | None, workers: int = 1
) -> TargetFactory:
    if cluster is not None:
        return andromede_rados_target(cluster, workers=workers, pool=_pool(baseline, workers))
    return andromede_target("uvicorn", encrypted=flavour == "encrypted")


@contextlib.contextmanager
def _servers(
    work: Path,
    baseline: Path | None,
    cluster: LazyCluster | None = None,
    workers: tuple[int, ...] = (1,),
    timed: str | None = None,
) -> Iterator[dict[str, Endpoint]]:
    """The servers, started; with ``timed`` (``--time-functions``), each one's timings go to
    ``work/timings/<its name>``."""
    variables = ("ANDROMEDE_WORKERS", "PYTHONPATH", *_TIMING_VARIABLES)
    with restored_environment(variables) as saved, contextlib.ExitStack() as stack:
        # One worker unless --workers: its CPU is the request path's.
        os.environ["ANDROMEDE_WORKERS"] = "1"
        # The timing hook first, if any: no tree may hide its sitecustomize.
        hook = [str(TIMING_HOOK)] if timed is not None else []
        inherited = [saved["PYTHONPATH"]] if saved["PYTHONPATH"] else []
        if timed is not None:
            os.environ["ANDROMEDE_TIME_FUNCTIONS"] = timed
        trees: list[tuple[str, str | None]] = [("", os.pathsep.join(hook + inherited) or None)]
        if baseline is not None:
            baseline_path = [*hook, str(baseline.resolve()), *inherited]
            trees.append(("baseline ", os.pathsep.join(baseline_path)))
        endpoints: dict[str, Endpoint] = {}
        for prefix, python_path in trees:
            # The server inherits the environment when it starts: its source tree.
            if python_path is None:
                os.environ.pop("PYTHONPATH", None)
            else:
                os.environ["PYTHONPATH"] = python_path
            for flavour in RADOS_TARGETS if cluster is not None else TARGETS:
                for count in workers if cluster is not None else (1,):
                    name = flavour + (f"-w{count}" if count > 1 else "")
                    factory = _factory(flavour, bool(prefix), cluster, count)
                    folder = work / f"{prefix.strip() or 'tree'}-{name}"
                    folder.mkdir(exist_ok=True)
                    if timed is not None:
                        timings = work / "timings" / (prefix + name)
                        os.environ["ANDROMEDE_TIME_FUNCTIONS_DIR"] = str(timings)
                    endpoints[prefix + name] = stack.enter_context(factory(folder))
        yield endpoints


def read_timings(folder: Path) -> tuple[dict[str, tuple[int, int]], dict[str, str]]:
    """The timing hook's files in ``folder``, one per process, summed: calls and thread-CPU
    nanoseconds per function, and the functions it could not time, with why."""
    counts: dict[str, tuple[int, int]] = {}
    missing: dict[str, str] = {}
    for path in sorted(folder.glob("*.tsv")) if folder.is_dir() else ():
        for line in path.read_text().splitlines():
            spec, calls, value = line.split("\t", 2)
            if calls == "missing":
                missing[spec] = value
                continue
            before = counts.get(spec, (0, 0))
            counts[spec] = (before[0] + int(calls), before[1] + int(value))
    return counts, missing


def _print_timings(
    timings: dict[str, tuple[dict[str, tuple[int, int]], dict[str, str]]],
) -> None:
    for name, (counts, missing) in timings.items():
        print(f"  {name}: thread CPU per call inside the server (every run, warm-up included)")
        for spec, (calls, nanoseconds) in counts.items():
            mean = nanoseconds / calls / 1000 if calls else 0.0
            print(f"    {spec:72s} {calls:9d} calls {mean:9.2f} µs")
        for spec, reason in missing.items():
            print(f"    {spec:72s} not timed: {reason}")


async def _create_bucket(session: S3Session) -> None:
    conn: Connection = session.connection()
    try:
        await session.create_bucket(conn, BUCKET)
    finally:
        conn.close()


def _worker_pids(endpoint: Endpoint) -> list[int]:
    """The processes that serve requests: the gateway itself with one worker, else its
    worker processes, in pid order — spawned (``spawn_main``), forked by multiprocessing's
    fork server (a fork server's child, with its command line), or forked by the worker
    template (the serving process's grandchildren, all three with one command line)."""
    pids = endpoint.probe.pids()
    workers = []
    for pid in pids:
        with contextlib.suppress(OSError):
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
            parent = _parent(pid)
            if b"spawn_main" in command:
                workers.append(pid)
            elif b"multiprocessing.forkserver" in command:
                if Path(f"/proc/{parent}/cmdline").read_bytes() == command:
                    workers.append(pid)
            elif parent in pids and _parent(parent) in pids:
                if Path(f"/proc/{parent}/cmdline").read_bytes() == command:
                    workers.append(pid)
    return sorted(workers) or pids[-1:]


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


_TICKS = os.sysconf("SC_CLK_TCK")


def _thread_cpu(pids: list[int]) -> dict[str, float]:
    """CPU seconds (utime + stime) of each thread of the processes ``pids``, summed by thread
    name (digits and a trailing ``-N``/``_N`` folded, so that ``msgr-worker-0`` and ``-1`` add
    up), and each process's context switches, voluntary and not, under ``#cs <n> vol`` and
    ``#cs <n> invol``, its CPU seconds under ``#cpu <n>`` and their system part under
    ``#sys <n>`` (``n`` its rank in ``pids``)."""
    seconds: dict[str, float] = collections.defaultdict(float)
    for rank, pid in enumerate(pids):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                name = (task / "comm").read_text().strip()
                fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
                group = re.sub(r"[-_]?[0-9]+$", "", name) or name
                cpu = (int(fields[11]) + int(fields[12])) / _TICKS
                seconds[group] += cpu
                seconds[f"#cpu {rank}"] += cpu
                seconds[f"#sys {rank}"] += int(fields[12]) / _TICKS
                for line in (task / "status").read_text().splitlines():
                    if line.startswith("voluntary_ctxt_switches:"):
                        seconds[f"#cs {rank} vol"] += int(line.split()[1])
                    elif line.startswith("nonvoluntary_ctxt_switches:"):
                        seconds[f"#cs {rank} invol"] += int(line.split()[1])
    return seconds


def _connections(pids: list[int], port: int) -> list[int]:
    """How many established connections to ``port`` each of ``pids`` holds (``ss``)."""
    listing = subprocess.run(
        ["ss", "-tnpH", "state", "established", f"( sport = :{port} )"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    owners = [int(pid) for pid in re.findall(r"pid=([0-9]+)", listing)]
    return [owners.count(pid) for pid in pids]


async def _round(
    endpoint: Endpoint,
    put: WorkloadSpec,
    get: WorkloadSpec,
    payload: Payload,
    prefix: str,
    threads: dict[str, list[float]] | None = None,
    hot: int | None = None,
) -> tuple[float, float, float, float]:
    """PUT then GET of what was put: (PUT ms CPU/op, PUT ops/s, GET ms CPU/op, GET ops/s).
    With ``threads``, each of the worker's thread groups' µs of CPU per GET is appended."""
    session = endpoint.session()
    put_run, keys = await run_workload(
        session, put, bucket=BUCKET, payload=payload, key_prefix=prefix, probe=endpoint.probe
    )
    if hot is not None:
        keys = keys[:hot]
    workers = _worker_pids(endpoint)
    before = _thread_cpu(workers) if threads is not None else None
    spread: list[list[int]] = []

    async def count_connections() -> None:
        await asyncio.sleep(get.duration_s / 2)
        spread.append(await asyncio.to_thread(_connections, workers, endpoint.ports[0]))

    counting = asyncio.create_task(count_connections()) if threads is not None else None
    get_run, _ = await run_workload(
        session, get, bucket=BUCKET, payload=payload, keys=keys, probe=endpoint.probe
    )
    if counting is not None:
        await counting
    if threads is not None and before is not None:
        after = _thread_cpu(workers)
        for name in after:
            # µs of CPU per GET; context switches per GET under "#cs" names.
            scale = 1.0 if name.startswith(("#cs", "#connections")) else 1e6
            threads.setdefault(name, []).append(
                scale * (after[name] - before.get(name, 0.0)) / max(get_run.ops, 1)
            )
        for rank, count in enumerate(spread[0] if spread else []):
            threads.setdefault(f"#connections {rank}", []).append(float(count))
    for run in (put_run, get_run):
        if run.errors:
            raise RuntimeError(f"errors during the run: {run.errors}")
    return (
        1000 * (put_run.server_cpu_s or 0.0) / max(put_run.ops, 1),
        put_run.ops / put_run.elapsed_s,
        1000 * (get_run.server_cpu_s or 0.0) / max(get_run.ops, 1),
        get_run.ops / get_run.elapsed_s,
    )


async def _profile(
    endpoints: dict[str, Endpoint],
    put: WorkloadSpec,
    get: WorkloadSpec,
    payload: Payload,
    out: Path,
    perf: bool = False,
) -> None:
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    out.mkdir(parents=True, exist_ok=True)
    for name, endpoint in endpoints.items():
        session = endpoint.session()
        keys: list[str] = []
        for spec in (put, get):
            argv = [py_spy, "record", "--pid", str(_worker_pids(endpoint)[0]), "--format", "raw"]
            argv += ["--rate", "250", "--threads", "--output"]
            argv.append(str(out / f"{name}-{spec.op.value.lower()}.txt"))
            record = subprocess.Popen(
                argv,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                await asyncio.sleep(1.0)  # py-spy attaches
                run, written = await run_workload(
                    session,
                    spec,
                    bucket=BUCKET,
                    payload=payload,
                    key_prefix="profile/",
                    keys=keys,
                )
                keys = keys or written
                # The operations the samples cover, to compare two targets' stacks per op.
                (out / f"{name}-{spec.op.value.lower()}.ops").write_text(f"{run.ops}\n")
            finally:
                record.send_signal(2)  # SIGINT: py-spy writes its file and exits
                record.wait(timeout=30)
        if perf:
            pids = ",".join(str(pid) for pid in _worker_pids(endpoint))
            for spec in (put, get):
                op = spec.op.value.lower()
                argv = ["perf", "record", "-g", "-e", "cpu-clock", "-F", "997", "-p", pids]
                argv += ["-o", str(out / f"{name}-{op}.perf")]
                record = subprocess.Popen(
                    argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                )
                try:
                    await asyncio.sleep(1.0)
                    run, _ = await run_workload(
                        session,
                        spec,
                        bucket=BUCKET,
                        payload=payload,
                        key_prefix="perf/",
                        keys=keys if spec.op is Op.GET else (),
                    )
                    (out / f"{name}-{op}.perf.ops").write_text(f"{run.ops}\n")
                finally:
                    record.send_signal(2)
                    record.wait(timeout=60)


async def _measure(
    endpoints: dict[str, Endpoint],
    rounds: int,
    seconds: float,
    profile: Path | None,
    threads: dict[str, dict[str, list[float]]] | None = None,
    perf: bool = False,
    size: int = 4 * KIB,
    hot: int | None = None,
) -> dict[str, list[tuple[float, float, float, float]]]:
    for endpoint in endpoints.values():
        await _create_bucket(endpoint.session())
    payload = Payload.random(size)
    put = WorkloadSpec(f"PUT {size} B", Op.PUT, size, 16, seconds, 1_000_000)
    get = WorkloadSpec(f"GET {size} B", Op.GET, size, 16, seconds, 1_000_000)
    # A first round each, not counted: imports, caches, the tenant key's first use.
    for endpoint in endpoints.values():
        await _round(endpoint, put, get, payload, "warm/", hot=hot)
    names = tuple(endpoints)
    results: dict[str, list[tuple[float, float, float, float]]] = {name: [] for name in names}
    for index in range(rounds):
        order = names if index % 2 == 0 else tuple(reversed(names))
        for name in order:
            per_thread = None if threads is None else threads.setdefault(name, {})
            figures = await _round(
                endpoints[name], put, get, payload, f"r{index}/", per_thread, hot
            )
            results[name].append(figures)
            print(
                f"round {index} {name:18s} PUT {figures[0]:.3f} ms/op {figures[1]:7.0f} ops/s"
                f"  GET {figures[2]:.3f} ms/op {figures[3]:7.0f} ops/s"
                f"  load {os.getloadavg()[0]:.1f}",
                flush=True,
            )
    if profile is not None:
        await _profile(endpoints, put, get, payload, profile, perf)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.cpu_per_op", description=__doc__)
    parser.add_argument("--rounds", type=int, default=4, help="measured rounds per target")
    parser.add_argument("--seconds", type=float, default=4.0, help="per workload run")
    parser.add_argument("--baseline", type=Path, help="also run servers from this src tree")
    parser.add_argument("--profile", type=Path, help="write py-spy collapsed stacks here")
    parser.add_argument("--rados", action="store_true", help="PostgreSQL + RADOS gateways")
    parser.add_argument("--threads", action="store_true", help="GET CPU split by thread")
    parser.add_argument("--perf", action="store_true", help="with --profile: perf a PUT and a GET")
    parser.add_argument("--hot", type=int, help="GET only the first N objects of each PUT run")
    parser.add_argument(
        "--time-functions",
        metavar="SPEC",
        help="module:name or module:Class.method, comma-separated: thread CPU per call",
    )
    parser.add_argument(
        "--size",
        type=int,
        default=4 * KIB,
        help="object size in bytes (0: a GET reads no blob, the bound for objects kept inline)",
    )
    parser.add_argument(
        "--workers",
        default="1",
        help="--rados: worker processes per gateway, or several counts (1,2): a gateway each",
    )
    args = parser.parse_args()
    threads: dict[str, dict[str, list[float]]] | None = {} if args.threads else None
    workers = tuple(int(count) for count in args.workers.split(","))
    trees = ("", "baseline ") if args.baseline else ("",)
    pools = tuple(_pool(bool(tree), count) for tree in trees for count in workers)
    with tempfile.TemporaryDirectory(prefix="andromede-cpu-per-op-") as work:
        cluster = None
        if args.rados:
            # PostgreSQL runs as its own user (the bench runs as root): it must reach its folder.
            os.chmod(work, 0o755)  # noqa: S103
            cluster = LazyCluster(Path(work) / "cluster", pools)
        try:
            servers = _servers(Path(work), args.baseline, cluster, workers, args.time_functions)
            with servers as endpoints:
                results = asyncio.run(
                    _measure(
                        endpoints,
                        args.rounds,
                        args.seconds,
                        args.profile,
                        threads,
                        args.perf,
                        args.size,
                        args.hot,
                    )
                )
        finally:
            if cluster is not None:
                cluster.close()
        # The servers have stopped: each process wrote its timings when it exited.
        timings = {
            name: read_timings(Path(work) / "timings" / name)
            for name in (results if args.time_functions else ())
        }
    medians: dict[str, list[float]] = {}
    print(f"\nmedians over {args.rounds} rounds (server CPU ms per op; ops/s)")
    for name, figures in results.items():
        medians[name] = [statistics.median(column) for column in zip(*figures, strict=True)]
        put_cpu, put_ops, get_cpu, get_ops = medians[name]
        print(
            f"  {name:18s} PUT {put_cpu:.3f} ms/op {put_ops:7.0f} ops/s"
            f"   GET {get_cpu:.3f} ms/op {get_ops:7.0f} ops/s"
        )
    for prefix in ("", "baseline ") if args.baseline else ("",):
        if args.rados:
            break  # encrypted only
        enc, plain = medians[prefix + "encrypted"], medians[prefix + "plain"]
        print(
            f"  {prefix}encrypted ÷ plain: PUT CPU/op {enc[0] / plain[0]:.3f}"
            f" ops/s {enc[1] / plain[1]:.3f}   GET CPU/op {enc[2] / plain[2]:.3f}"
            f" ops/s {enc[3] / plain[3]:.3f}"
        )
    for name, groups in (threads or {}).items():
        print(f"  {name}: worker CPU per GET by thread (µs, median over the rounds)")
        by_cost = sorted(groups.items(), key=lambda item: -statistics.median(item[1]))
        for group, values in by_cost:
            if not group.startswith("#") and statistics.median(values) >= 1.0:
                print(f"    {group:24s} {statistics.median(values):7.1f}")
        print(
            "    by worker process: µs CPU/GET (system), context switches/GET (vol, invol),"
            " connections"
        )
        for rank in range(max(workers)):
            if f"#cpu {rank}" not in groups:
                continue
            cost = [
                statistics.median(groups.get(key, [0.0]))
                for key in (f"#cpu {rank}", f"#sys {rank}", f"#cs {rank} vol", f"#cs {rank} invol")
            ]
            connections = groups.get(f"#connections {rank}", [])
            print(
                f"    worker {rank}: {cost[0]:7.1f} µs ({cost[1]:5.1f})"
                f"  {cost[2]:5.2f} {cost[3]:5.2f}"
                f"  connections by round {[int(c) for c in connections]}"
            )
    _print_timings(timings)
    if args.baseline:
        for flavour in RADOS_TARGETS if args.rados else TARGETS:
            for count in workers if args.rados else (1,):
                name = flavour + (f"-w{count}" if count > 1 else "")
                new, old = medians[name], medians["baseline " + name]
                print(
                    f"  {name} this tree ÷ baseline: PUT CPU/op {new[0] / old[0]:.3f}"
                    f"   GET CPU/op {new[2] / old[2]:.3f}"
                )


if __name__ == "__main__":
    main()
