"""Instructions per small PUT and GET inside the server, encrypted against the bench-only
plaintext switch, counted by callgrind: the part of encryption's cost that is work done,
far steadier on a shared machine than CPU time (decision 0038).

``python -m bench.instructions [--objects N] [--reads R] [--size BYTES] [--concurrency C]
[--top K] [--baseline SRC] [--remember M] [--cache-sim] [--keep DIR]`` starts
``andromede serve`` (uvicorn, one worker process, a fresh data dir) under
``valgrind --tool=callgrind``, once encrypted and once with ``ANDROMEDE_BENCH_UNENCRYPTED=1``,
and measures as many at once as the machine has cores. On each it PUTs and GETs a few objects
uncounted (imports, caches, the tenant key's first use), then counts a run of ``N`` PUTs with
``C`` requests in flight (default 16, as in
``python -m bench``) and a run of GETs that reads each of those objects ``R`` times in turn.

It prints the instructions per operation of every server (all its threads, user space:
callgrind does not see the kernel), the encrypted ÷ plain ratios, and the ``K`` functions
whose instructions per operation differ most between the two (exclusive counts, by
``callgrind_annotate``). ``--baseline SRC`` adds the same two servers run from another
source tree (``SRC`` first on their ``PYTHONPATH``), and the this tree ÷ baseline ratios.
``--remember N`` bounds what each server keeps per object (data keys, opened headers, decoded
row texts: ``data_key_cache_size`` and ``opened_headers_cache_size``): below ``--objects``,
every GET is an object's first read in its server. By default they hold 10,000 objects, so
every GET counted reads a remembered object, as in ``bench.cpu_per_op``'s one worker; the
GETs a two-worker ``python -m bench`` sends to the worker that did not write the object are
first reads (decision 0039). ``--cache-sim`` adds callgrind's cache simulation (first level,
and as the last level a 1 MiB cache, one core's L2: the L3 is shared with whatever else the
machine runs), the misses per operation and the functions whose last-level misses differ
most. ``--keep DIR`` keeps the callgrind files (``callgrind_annotate``, kcachegrind).

What moves the counts: the servers run about fifty times slower than natively, so work
driven by the clock would fall on fifty times fewer requests. The servers get their
audit-flush, log-flush and key-file recheck intervals stretched fifty times and no periodic
upkeep (see ``_STEADY_SETTINGS``), and are measured one per core (a server sharing its core
is slowed further). Two copies of one tree measured in the same run then agree within 0.3 %, with
``C`` at 16 too (the database writer's group commit batches a little differently each run).
What counts cannot show is what the same instructions cost in time (cold caches, another
process on the core): ``bench.cpu_per_op`` measures that, and the two together split a gap
into work and the work's footprint.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import concurrent.futures
import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from bench.targets import Endpoint, andromede_target, restored_environment
from bench.workloads import KIB, Op, Payload, S3Session, WorkloadSpec, run_workload

__all__ = [
    "Counts",
    "callgrind_servers",
    "function_costs",
    "main",
    "measure",
    "print_report",
    "read_totals",
    "server_settings",
    "table_agrees",
]

_Server = TypeVar("_Server")

BUCKET = "instructions"
TARGETS = ("encrypted", "plain")
DEFAULT_CONCURRENCY = 16
WARM_UP_OBJECTS = 64
# The last level of the simulated caches: one Zen 4 / recent Xeon core's L2 (size, ways, line).
_LAST_LEVEL = "--LL=1048576,8,64"
_OUT_PREFIX = "callgrind.out"
# Under callgrind a server runs about fifty times slower than natively, so work driven by the
# clock would fall on fifty times fewer requests and land in one counted run but not the next
# (a 60 s upkeep pass added 60 % to one server's GETs). The sub-second work a request shares
# natively (audit and log flushes, the key file's recheck) is slowed down alike; the periodic
# upkeep (orphan sweep, compute resync, KMS deletions, access keys' last use), which natively
# falls on hundreds of thousands of requests, is left out.
_SLOWDOWN = 50
_STEADY_SETTINGS = {
    "ANDROMEDE_AUDIT_FLUSH_INTERVAL": str(0.2 * _SLOWDOWN),
    "ANDROMEDE_LOG_FLUSH_INTERVAL": str(0.5 * _SLOWDOWN),
    "ANDROMEDE_KEY_FILE_RECHECK_INTERVAL": str(1.0 * _SLOWDOWN),
    "ANDROMEDE_SWEEPER_INTERVAL": "86400",
    "ANDROMEDE_COMPUTE_RESYNC_INTERVAL": "86400",
    "ANDROMEDE_KMS_UPKEEP_INTERVAL": "86400",
    "ANDROMEDE_KEY_USAGE_FLUSH_INTERVAL": "86400",
}

# What --remember bounds: the per-object state a worker keeps between two reads of an object.
_REMEMBER_SETTINGS = ("ANDROMEDE_DATA_KEY_CACHE_SIZE", "ANDROMEDE_OPENED_HEADERS_CACHE_SIZE")


def server_settings(remember: int | None = None) -> dict[str, str]:
    """The settings (environment variables) every measured server gets: steady clock-driven
    work, and with ``remember`` its per-object state bounded to that many objects."""
    settings = dict(_STEADY_SETTINGS)
    if remember is not None:
        settings.update(dict.fromkeys(_REMEMBER_SETTINGS, str(remember)))
    return settings


@dataclass(frozen=True)
class Counts:
    """What callgrind counted over one run: its events (``Ir`` and, with the cache simulation,
    the misses) and each function's exclusive counts, by event."""

    operations: int
    events: Mapping[str, int]
    functions: Mapping[str, Mapping[str, int]]

    def per_operation(self, event: str) -> float:
        return self.events.get(event, 0) / max(self.operations, 1)


def read_totals(text: str) -> dict[str, int]:
    """The event totals of one callgrind output file (its ``events:`` line names them, its
    ``summary:`` or ``totals:`` line counts them)."""
    names: list[str] = []
    for line in text.splitlines():
        if line.startswith("events:"):
            names = line.split()[1:]
        elif line.startswith(("summary:", "totals:")) and names:
            return dict(zip(names, (int(v) for v in line.split()[1:]), strict=False))
    raise ValueError("no events or totals in the callgrind output")


_PERCENT = re.compile(r"\(\s*[\d.]+%\)")
_LAST_LEVEL_MISSES = ("ILmr", "DLmr", "DLmw")


def function_costs(annotated: str) -> dict[str, dict[str, int]]:
    """Exclusive counts by event, then by function, from ``callgrind_annotate`` output (the
    events its ``Events shown:`` line names). Names are shortened to ``file:function``
    (build directories, the binary in brackets and recursion depths dropped, so that the same
    function adds up)."""
    events: list[str] = []
    costs: dict[str, collections.Counter[str]] = {}
    in_table = False
    for line in annotated.splitlines():
        if line.startswith("Events shown:"):
            events = line.split()[2:]
            costs = {event: collections.Counter() for event in events}
        elif "file:function" in line:
            in_table = True
        elif in_table and events:
            if not line.strip():
                break  # the table ends; annotated source may follow
            fields = _PERCENT.sub("", line).split()
            values, name_parts = fields[: len(events)], fields[len(events) :]
            if not name_parts or not all(v == "." or v.replace(",", "").isdigit() for v in values):
                continue
            name = re.sub(r" \[[^]]*\]$", "", " ".join(name_parts))
            name = re.sub(r"'\d+$", "", name).rsplit("/", 1)[-1]
            for event, value in zip(events, values, strict=True):
                if value != ".":
                    costs[event][name] += int(value.replace(",", ""))
    return {event: dict(counter) for event, counter in costs.items()}


def calls_counted_from_zero(text: str) -> str:
    """The callgrind file with each ``calls=0`` line made ``calls=1``.

    callgrind writes ``calls=0`` for a call that was already running when instrumentation came
    on (a thread's entry frames, an asyncio task resumed by ``gen_throw``): the cost line after it
    is that call's inclusive cost, as after any ``calls=`` line. ``callgrind_annotate`` (3.19)
    takes a call as a call only when its count is above zero, so it adds that inclusive cost to
    the caller's own, once per frame of the chain: a GET window's table summed 30 % past its
    total, naming ``task_wakeup``, ``gen_throw``, ``start_thread``, ``clone``. Counted from one,
    every table of that run equals the file's ``totals:`` line exactly. Only call counts change,
    which the table does not show."""
    return re.sub(r"^calls=0 ", "calls=1 ", text, flags=re.MULTILINE)


def _annotate(path: Path, cache_sim: bool) -> dict[str, dict[str, int]]:
    shown = ",".join(("Ir", *_LAST_LEVEL_MISSES)) if cache_sim else "Ir"
    counted = path.with_name(path.name + ".annotated")
    counted.write_text(calls_counted_from_zero(path.read_text()))
    listing = subprocess.run(
        [
            "callgrind_annotate",
            "--threshold=100",
            "--inclusive=no",
            "--auto=no",
            f"--show={shown}",
            str(counted),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return function_costs(listing)


def _control(pid: int, *args: str) -> None:
    subprocess.run(["callgrind_control", *args, str(pid)], check=True, capture_output=True)


def _launcher(out: Path, cache_sim: bool) -> list[str]:
    argv = ["valgrind", "--tool=callgrind", "--instr-atstart=no"]
    argv += [f"--callgrind-out-file={out}/{_OUT_PREFIX}.%p", "--quiet"]
    if cache_sim:
        argv += ["--cache-sim=yes", _LAST_LEVEL]
    return argv


async def _dumped(pid: int, folder: Path, label: str) -> Path:
    """Dump the counts since the last zeroing to a file of their own, and name it (once it is
    whole: its totals come last)."""
    before = set(folder.glob(f"{_OUT_PREFIX}.*"))
    await asyncio.to_thread(_control, pid, "--dump=" + label)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for path in sorted(set(folder.glob(f"{_OUT_PREFIX}.*")) - before):
            # Its "summary:" line is in the header, written first; "totals:" ends the file.
            if any(line.startswith("totals:") for line in path.read_text().splitlines()):
                return path
        await asyncio.sleep(0.2)
    raise RuntimeError(f"callgrind wrote no dump for {label} in {folder}")


# How far the functions' table may be from the run's total. callgrind's own file can differ by
# a little: its cost lines (the table) summed past its ``summary:`` line by 1.0 to 1.4 % in every
# GET window of one server in a loaded CI run (three attempts), with no thread entry frame in
# the table, while the other server's windows agreed within 0.07 %. What the check is for is the
# double charge below, tens of percent.
TABLE_TOLERANCE = 0.03


def table_agrees(counts: Counts) -> bool:
    """Whether the functions' exclusive counts add up to the run's total (within
    :data:`TABLE_TOLERANCE`).

    They did not when ``callgrind_annotate`` read calls already running at ``--instr=on``
    (a thread's entry frames, a resumed task) as their callers' own cost, seen adding 39 % to a
    run's table while its total stayed right: :func:`calls_counted_from_zero` now prevents that.
    The check stays as a guard; such a table would name those frames as the differences, so
    the run is measured again instead."""
    listed = sum(counts.functions["Ir"].values())
    return abs(listed - counts.events["Ir"]) <= counts.events["Ir"] * TABLE_TOLERANCE


_ATTEMPTS = 3


async def _measure_one(
    endpoint: Endpoint,
    folder: Path,
    objects: int,
    reads: int,
    size: int,
    cache_sim: bool,
    concurrency: int,
) -> dict[str, Counts]:
    pid = endpoint.probe.roots[0]
    session: S3Session = endpoint.session()
    connection = session.connection()
    try:
        await session.create_bucket(connection, BUCKET)
    finally:
        connection.close()
    payload = Payload.random(size)
    put = WorkloadSpec(f"PUT {size} B", Op.PUT, size, concurrency, 3600.0, objects, 600.0)
    get = WorkloadSpec(f"GET {size} B", Op.GET, size, concurrency, 3600.0, objects * reads, 600.0)
    warm_put = WorkloadSpec("warm PUT", Op.PUT, size, concurrency, 3600.0, WARM_UP_OBJECTS, 600.0)
    warm_get = WorkloadSpec("warm GET", Op.GET, size, concurrency, 3600.0, WARM_UP_OBJECTS, 600.0)
    _, warm_keys = await run_workload(
        session, warm_put, bucket=BUCKET, payload=payload, key_prefix="warm/"
    )
    await run_workload(session, warm_get, bucket=BUCKET, payload=payload, keys=warm_keys)
    await asyncio.to_thread(_control, pid, "--instr=on")

    async def counted(
        name: str, spec: WorkloadSpec, keys: Sequence[str] = ()
    ) -> tuple[Counts, list[str]]:
        for attempt in range(1, _ATTEMPTS + 1):
            await asyncio.to_thread(_control, pid, "--zero")
            run, written = await run_workload(
                session,
                spec,
                bucket=BUCKET,
                payload=payload,
                key_prefix=f"counted-{attempt}/",
                keys=keys,
            )
            path = await _dumped(pid, folder, f"{name}-{attempt}")
            if run.errors:
                raise RuntimeError(f"{endpoint.name}: errors during the {name} run: {run.errors}")
            counts = Counts(run.ops, read_totals(path.read_text()), _annotate(path, cache_sim))
            if table_agrees(counts):
                return counts, written
            print(
                f"{endpoint.name} {name}: callgrind's function table does not add up to its "
                f"total (thread entry frames charged twice); measuring again",
                file=sys.stderr,
            )
        raise RuntimeError(
            f"{endpoint.name}: callgrind's function table disagreed with its total "
            f"{_ATTEMPTS} times running {name}"
        )

    put_counts, keys = await counted("PUT", put)
    get_counts, _ = await counted("GET", get, keys)
    return {"PUT": put_counts, "GET": get_counts}


@contextlib.contextmanager
def callgrind_servers(
    work: Path, baseline: Path | None, cache_sim: bool, remember: int | None = None
) -> Iterator[dict[str, tuple[Endpoint, Path]]]:
    """The servers under callgrind, started, by name, each with the folder its callgrind files
    go to; with ``baseline``, also the two run from that source tree. ``remember``: the objects
    a server keeps keys, opened headers and decoded rows of (the servers' default if None)."""
    variables = ("ANDROMEDE_WORKERS", "PYTHONPATH", *_STEADY_SETTINGS, *_REMEMBER_SETTINGS)
    with restored_environment(variables) as saved, contextlib.ExitStack() as stack:
        os.environ["ANDROMEDE_WORKERS"] = "1"  # one process: callgrind follows it, not children
        os.environ.update(server_settings(remember))
        trees: list[tuple[str, str | None]] = [("", saved["PYTHONPATH"])]
        if baseline is not None:
            inherited = [saved["PYTHONPATH"]] if saved["PYTHONPATH"] else []
            trees.append(("baseline ", os.pathsep.join([str(baseline.resolve()), *inherited])))
        servers: dict[str, tuple[Endpoint, Path]] = {}
        for prefix, python_path in trees:
            if python_path is None:
                os.environ.pop("PYTHONPATH", None)
            else:
                os.environ["PYTHONPATH"] = python_path
            starting: dict[str, tuple[contextlib.AbstractContextManager[Endpoint], Path]] = {}
            for flavour in TARGETS:
                folder = work / f"{prefix.strip() or 'tree'}-{flavour}"
                folder.mkdir()
                factory = andromede_target(
                    "uvicorn",
                    encrypted=flavour == "encrypted",
                    launcher=_launcher(folder, cache_sim),
                )
                starting[prefix + flavour] = (factory(folder), folder)
            started = _started_together(stack, [server for server, _ in starting.values()])
            for (name, (_, folder)), endpoint in zip(starting.items(), started, strict=True):
                servers[name] = (endpoint, folder)
        yield servers


def _started_together(
    stack: contextlib.ExitStack[bool | None],
    servers: Sequence[contextlib.AbstractContextManager[_Server]],
) -> list[_Server]:
    """Each server entered in a thread of its own, and its exit put on ``stack`` once started,
    even when another failed to start. Starting is most of a measurement: under valgrind a
    server's start (its imports, mostly) costs some seven times its native CPU, 32 s against
    4.4, and one start after the other left a core idle that the other server could use
    (decision 0299)."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(servers)) as pool:
        entering = [pool.submit(server.__enter__) for server in servers]
        concurrent.futures.wait(entering)
    for server, future in zip(servers, entering, strict=True):
        if future.exception() is None:
            stack.push(server)
    return [future.result() for future in entering]


async def measure(
    servers: Mapping[str, tuple[Endpoint, Path]],
    objects: int,
    reads: int,
    size: int,
    cache_sim: bool = False,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> dict[str, dict[str, Counts]]:
    """Every server's counts, as many measured at once as there are cores: a server slowed
    by a shared core does more of its timed work (log flushes, key-file rechecks, the
    background tasks) per request, and its counts grow (5 % seen with four on two cores)."""
    names = list(servers)
    parallel = max(os.cpu_count() or 1, 1)
    results: dict[str, dict[str, Counts]] = {}
    for first in range(0, len(names), parallel):
        group = names[first : first + parallel]
        counted = await asyncio.gather(
            *(
                _measure_one(*servers[name], objects, reads, size, cache_sim, concurrency)
                for name in group
            )
        )
        results.update(zip(group, counted, strict=True))
    return results


def print_report(
    results: Mapping[str, Mapping[str, Counts]], top: int, cache_sim: bool, baseline: bool
) -> None:
    print("\ninstructions per operation (callgrind; all threads of the server, user space)")
    for name, counts in results.items():
        line = f"  {name:20s}"
        for op in ("PUT", "GET"):
            line += f"   {op} {counts[op].per_operation('Ir'):12,.0f}"
            if cache_sim:
                first = sum(counts[op].per_operation(e) for e in ("I1mr", "D1mr", "D1mw"))
                last = sum(counts[op].per_operation(e) for e in _LAST_LEVEL_MISSES)
                line += f" (L1 misses {first:8,.0f}, LL {last:7,.0f})"
        print(line)
    prefixes = ("", "baseline ") if baseline else ("",)
    for prefix in prefixes:
        enc, plain = results[prefix + "encrypted"], results[prefix + "plain"]
        ratios = "   ".join(
            f"{op} x{enc[op].per_operation('Ir') / plain[op].per_operation('Ir'):.3f}"
            f" ({enc[op].per_operation('Ir') - plain[op].per_operation('Ir'):+,.0f})"
            for op in ("PUT", "GET")
        )
        print(f"  {prefix}encrypted ÷ plain: {ratios}")
    if baseline:
        for flavour in TARGETS:
            new, old = results[flavour], results["baseline " + flavour]
            ratios = "   ".join(
                f"{op} x{new[op].per_operation('Ir') / old[op].per_operation('Ir'):.3f}"
                for op in ("PUT", "GET")
            )
            print(f"  {flavour} this tree ÷ baseline: {ratios}")
    listed = [("Ir", "instructions")]
    if cache_sim:
        listed.append(("LL", "last-level cache misses"))
    for op in ("PUT", "GET"):
        for event, what in listed:
            difference = _difference(results["encrypted"][op], results["plain"][op], event)
            print(f"\n{op}: encrypted - plain, {what} per operation by function (exclusive)")
            for name, extra in sorted(difference.items(), key=lambda item: -abs(item[1]))[:top]:
                print(f"  {extra:+10,.0f}  {name}")


def _difference(enc: Counts, plain: Counts, event: str) -> dict[str, float]:
    """Per function, ``event`` per operation in ``enc`` minus in ``plain``; ``LL``: the sum
    of the last-level misses (instruction reads, data reads and writes)."""
    events = _LAST_LEVEL_MISSES if event == "LL" else (event,)

    def per_operation(counts: Counts, name: str) -> float:
        total = sum(counts.functions.get(e, {}).get(name, 0) for e in events)
        return total / max(counts.operations, 1)

    names = {
        name for counts in (enc, plain) for e in events for name in counts.functions.get(e, {})
    }
    return {name: per_operation(enc, name) - per_operation(plain, name) for name in names}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.instructions", description=__doc__)
    parser.add_argument("--objects", type=int, default=1000, help="PUTs counted")
    parser.add_argument("--reads", type=int, default=4, help="GETs of each object counted")
    parser.add_argument("--size", type=int, default=4 * KIB, help="object size in bytes")
    parser.add_argument("--top", type=int, default=25, help="functions listed per operation")
    parser.add_argument("--baseline", type=Path, help="also run servers from this src tree")
    parser.add_argument("--cache-sim", action="store_true", help="also count cache misses")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=DEFAULT_CONCURRENCY,
        help="requests in flight (1: the steadiest counts; 16: the benchmark's batching)",
    )
    parser.add_argument(
        "--remember",
        type=int,
        help="objects whose keys and opened headers a server keeps (below --objects: every GET"
        " is an object's first read in the server, as the GETs a two-worker server sends to"
        " the worker that did not write the object)",
    )
    parser.add_argument(
        "--keep", type=Path, help="copy the callgrind files here (callgrind_annotate, kcachegrind)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="andromede-instructions-") as work:
        servers_started = callgrind_servers(
            Path(work), args.baseline, args.cache_sim, args.remember
        )
        with servers_started as servers:
            results = asyncio.run(
                measure(
                    servers, args.objects, args.reads, args.size, args.cache_sim, args.concurrency
                )
            )
        if args.keep is not None:
            for name, (_, folder) in servers.items():
                kept = args.keep / name.replace(" ", "-")
                kept.mkdir(parents=True, exist_ok=True)
                for path in folder.glob(f"{_OUT_PREFIX}.*"):
                    shutil.copy2(path, kept / path.name)
    print_report(results, args.top, args.cache_sim, args.baseline is not None)


if __name__ == "__main__":
    main()
