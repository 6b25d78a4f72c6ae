"""What the data-events setting (decision 0109) costs a 4 KiB GET while it is off: two
``andromede serve`` (uvicorn) side by side, one on the sources of main and one on this tree's,
read alternately in one run.

``python -m bench.data_events_cost --base /work/main/src [--seconds S] [--repeats N]`` starts
both servers on fresh data dirs (``PYTHONPATH`` chooses the sources each imports), writes the
same 4 KiB objects on each, then runs GET 4 KiB at concurrency 16 on each in turn, ``repeats``
times in ABBA order (the shared machine's drift falls on both), and prints the medians and the
p50 ratio within each repeat. The bucket read of every GET now joins its data-events row; the
target is a ratio indistinguishable from 1.

``--store`` measures that join alone, in process: the GET's one query (bucket and object) as
main makes it and as this tree does, alternated on one SQLite database (ABBA, ``repeats``
rounds of 3000 reads), which a busy machine's drift affects far less than the HTTP runs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from andromede.db import tables
from andromede.db.database import open_database
from andromede.db.migrate import upgrade
from andromede.db.statements import RowQuery
from andromede.storage import store_sql, store_sql_statements
from andromede.storage.model import Bucket
from bench.policy_overhead import median_interval
from bench.targets import Endpoint, andromede_target
from bench.workloads import KIB, Op, Payload, RunResult, WorkloadSpec, run_workload

BUCKET = "bench-data-events"


async def _prepare(endpoint: Endpoint, payload: Payload) -> list[str]:
    session = endpoint.session()
    conn = session.connection()
    try:
        await session.create_bucket(conn, BUCKET)
    finally:
        conn.close()
    put = WorkloadSpec("PUT 4 KiB", Op.PUT, 4 * KIB, 16, 60.0, 2_000)
    _, keys = await run_workload(session, put, bucket=BUCKET, payload=payload, key_prefix="k/")
    return keys


async def _run(
    endpoints: dict[str, Endpoint], seconds: float, repeats: int
) -> dict[str, list[RunResult]]:
    payload = Payload.random(4 * KIB)
    keys = {name: await _prepare(endpoint, payload) for name, endpoint in endpoints.items()}
    get = WorkloadSpec("GET 4 KiB", Op.GET, 4 * KIB, 16, seconds, 1_000_000)
    runs: dict[str, list[RunResult]] = {name: [] for name in endpoints}
    names = list(endpoints)
    for repeat in range(repeats):
        for name in names if repeat % 2 == 0 else reversed(names):
            endpoint = endpoints[name]
            run, _ = await run_workload(
                endpoint.session(),
                get,
                bucket=BUCKET,
                payload=payload,
                keys=keys[name],
                probe=endpoint.probe,
            )
            runs[name].append(run)
    return runs


async def _store_rounds(work: Path, repeats: int) -> dict[str, list[float]]:
    url = f"sqlite:///{work / 'meta.db'}"
    upgrade(url)
    db = open_database(url)
    buckets, objects = tables.buckets, tables.objects
    in_bucket = (objects.c.bucket == buckets.c.name) & (objects.c.key == sa.bindparam("key"))
    queries = {
        # main's: the bucket and its object, no data-events row
        "without join": RowQuery(
            sa.select(buckets, *(c.label(f"o_{c.name}") for c in objects.c))
            .select_from(buckets.outerjoin(objects, in_bucket))
            .where(buckets.c.name == sa.bindparam("name"))
        ),
        # This tree's, as the store runs it.
        "with join": store_sql_statements._READ_BUCKET_AND_OBJECT,
    }
    params = {"name": BUCKET, "key": "k"}
    try:
        store = store_sql.SqlMetadataStore(db)
        await store.create_bucket(Bucket(BUCKET, "t", "o", "eu", datetime.now(UTC)))
        for query in queries.values():
            for _ in range(2000):
                await db.read_row(query, params)
        rounds: dict[str, list[float]] = {name: [] for name in queries}
        for repeat in range(repeats):
            names = list(queries) if repeat % 2 == 0 else list(reversed(queries))
            for name in names:
                started = time.perf_counter()
                for _ in range(3000):
                    await db.read_row(queries[name], params)
                rounds[name].append((time.perf_counter() - started) / 3000 * 1e6)
        return rounds
    finally:
        await db.close()


def _store_main(repeats: int) -> None:
    with tempfile.TemporaryDirectory(prefix="andromede-data-events-") as work:
        rounds = asyncio.run(_store_rounds(Path(work), repeats))
    for name, values in rounds.items():
        print(f"{name:>12}: median {statistics.median(values):.1f} us a read")
    paired = sorted(
        new / old for old, new in zip(rounds["without join"], rounds["with join"], strict=True)
    )
    interval = median_interval(paired)
    spread = "" if interval is None else f", 95 % interval {interval[0]:.3f}-{interval[1]:.3f}"
    print(f"paired ratio with / without: median {statistics.median(paired):.3f}{spread}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.data_events_cost", description=__doc__)
    parser.add_argument("--base", help="the sources to compare with (main's src)")
    parser.add_argument("--seconds", type=float, default=4.0, help="per GET run")
    parser.add_argument("--repeats", type=int, default=6)
    parser.add_argument("--store", action="store_true", help="the SQL join alone, in process")
    args = parser.parse_args()
    if args.store:
        _store_main(max(args.repeats, 20))
        return
    if args.base is None:
        parser.error("--base is required (unless --store)")
    this_tree = str(Path(__file__).resolve().parent.parent / "src")
    with tempfile.TemporaryDirectory(prefix="andromede-data-events-") as work:
        endpoints: dict[str, Endpoint] = {}
        with contextlib.ExitStack() as stack:
            saved = os.environ.get("PYTHONPATH")
            for name, source in (("base", args.base), ("this tree", this_tree)):
                os.environ["PYTHONPATH"] = source
                workdir = Path(work) / name.replace(" ", "-")
                workdir.mkdir()
                endpoints[name] = stack.enter_context(andromede_target("uvicorn")(workdir))
            if saved is None:
                os.environ.pop("PYTHONPATH")
            else:
                os.environ["PYTHONPATH"] = saved
            runs = asyncio.run(_run(endpoints, args.seconds, args.repeats))
    for name, results in runs.items():
        ops = statistics.median(r.ops / r.elapsed_s for r in results)
        p50 = statistics.median(statistics.median(r.latencies_ms) for r in results)
        cpu = statistics.median(1000 * (r.server_cpu_s or 0.0) / max(r.ops, 1) for r in results)
        errors = sum(sum(r.errors.values()) for r in results)
        print(f"{name:>10}: {ops:,.0f} ops/s, p50 {p50:.2f} ms, server CPU {cpu:.3f} ms/op, "
              f"errors {errors}")  # fmt: skip
    paired = sorted(
        statistics.median(new.latencies_ms) / statistics.median(old.latencies_ms)
        for old, new in zip(runs["base"], runs["this tree"], strict=True)
    )
    interval = median_interval(paired)
    spread = "" if interval is None else f", 95 % interval {interval[0]:.3f}-{interval[1]:.3f}"
    print(f"p50 ratio this tree / base within each repeat: median {statistics.median(paired):.3f}"
          f" over {len(paired)} repeats{spread}")  # fmt: skip


if __name__ == "__main__":
    main()
