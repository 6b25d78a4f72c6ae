"""What the S3 authoriser's decision for one 4 KiB GET costs in process, with and without the
20-statement bucket policy of ``bench.policy_overhead``: time and CPU instructions.

``python -m bench.authz_micro [--iterations N] [--repeats R]`` times ``S3Authoriser.authorise``
for a GetObject by the bucket owner's root user from 127.0.0.1 (the server benchmark's request)
on two buckets alike but for the policy, with ``time.perf_counter_ns``, and prints the median
nanoseconds per decision of each and their difference. ``--store`` times the other half of
what a policy adds to a GET instead: the GET's one read, of the bucket with the object
(``SqlMetadataStore.get_bucket_and_object`` on SQLite, the policy text in the bucket row; no
object is stored, the object's part of the read being the same for both buckets).

``--cachegrind`` counts instructions instead, which a busy machine does not disturb: it runs
this module under ``valgrind --tool=cachegrind --cache-sim=no`` for ``N`` and ``5N`` decisions
(or reads) of each bucket and prints (I refs at 5N - I refs at N) ÷ 4N, the instructions per
decision with start-up and warm-up cancelled out. Put another source tree first on
``PYTHONPATH`` to count its figures (before/after a change).

``--profile`` prints a cProfile of the decisions on the bucket with the policy, sorted by own
time: where the calls a policy adds go.

The authoriser and the store are driven without an event loop (``coroutine.send``): nothing
they await on this path suspends (the identity policies come from a plain coroutine, the root
user has none; SQLite's point reads run inline), so the figures are their own, not asyncio's.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from andromede.db.database import open_database
from andromede.db.migrate import upgrade
from andromede.iam.model import Principal, PrincipalKind, PrincipalPolicies, canonical_id
from andromede.s3.authorise import S3Authoriser
from andromede.s3.operations import S3Operation
from andromede.storage.model import Bucket, PublicAccessBlock
from andromede.storage.store_sql import SqlMetadataStore
from bench.policy_overhead import PLAIN, WITH_POLICY, twenty_statements

TENANT = "123456789012"
KEY = "k/000123"
SOURCE_IP = "127.0.0.1"
REGION = "eu-west-1"


async def _no_identity_policies(principal: Principal) -> PrincipalPolicies:
    return PrincipalPolicies()


def _bucket(name: str, policy: str | None) -> Bucket:
    """A bucket as ``CreateBucket`` + ``PutBucketPolicy`` leave it (BPA on, ACLs disabled)."""
    return Bucket(
        name=name,
        tenant_id=TENANT,
        owner_id=canonical_id(TENANT),
        region=REGION,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        policy=policy,
        public_access_block=PublicAccessBlock(),
    )


ROOT = Principal(
    tenant_id=TENANT,
    user_id=TENANT,
    user_name=None,
    kind=PrincipalKind.ROOT,
    arn=f"arn:aws:iam::{TENANT}:root",
)
BUCKETS = {
    PLAIN: _bucket(PLAIN, None),
    WITH_POLICY: _bucket(WITH_POLICY, twenty_statements(WITH_POLICY)),
}
AUTHORISER = S3Authoriser(_no_identity_policies, REGION)


def _run_sync(coroutine: Coroutine[Any, Any, None]) -> None:
    try:
        coroutine.send(None)
    except StopIteration:
        return
    coroutine.close()
    raise RuntimeError("the coroutine suspended: this benchmark expects it not to")


def decide(bucket: Bucket) -> None:
    """One GetObject decision, as ``RequestAdmission.authorise`` asks for it."""
    _run_sync(
        AUTHORISER.authorise(
            ROOT,
            S3Operation.GetObject,
            bucket=bucket,
            bucket_name=bucket.name,
            key=KEY,
            keys={},
            source_ip=SOURCE_IP,
            secure=False,
            load_object=None,
        )
    )


def loop(bucket: Bucket, iterations: int) -> int:
    """Nanoseconds for ``iterations`` decisions on ``bucket``."""
    started = time.perf_counter_ns()
    for _ in range(iterations):
        decide(bucket)
    return time.perf_counter_ns() - started


def _open_store(work: Path) -> SqlMetadataStore:
    """A SQLite store holding both buckets, as the server's data dir would."""
    url = f"sqlite:///{work / 'meta.db'}"
    upgrade(url)
    store = SqlMetadataStore(open_database(url))

    async def create() -> None:
        for bucket in BUCKETS.values():
            await store.create_bucket(bucket)

    asyncio.run(create())
    return store


def store_loop(store: SqlMetadataStore, bucket: Bucket, iterations: int) -> int:
    """Nanoseconds for ``iterations`` reads of ``bucket`` with an object key, as a GET's."""

    async def read() -> None:
        await store.get_bucket_and_object(bucket.name, KEY)

    started = time.perf_counter_ns()
    for _ in range(iterations):
        _run_sync(read())
    return time.perf_counter_ns() - started


def _timings(iterations: int, repeats: int, store: SqlMetadataStore | None) -> None:
    label = "store read" if store is not None else "decision"

    def timed(bucket: Bucket, count: int) -> int:
        return loop(bucket, count) if store is None else store_loop(store, bucket, count)

    for bucket in BUCKETS.values():
        timed(bucket, 1)  # parse and memoise the policy outside the timing
    per: dict[str, list[float]] = {name: [] for name in BUCKETS}
    for repeat in range(repeats):
        # ABBA, as the server benchmark: drift falls on both.
        order = list(BUCKETS) if repeat % 2 == 0 else list(reversed(BUCKETS))
        for name in order:
            per[name].append(timed(BUCKETS[name], iterations) / iterations)
    plain = statistics.median(per[PLAIN])
    with_policy = statistics.median(per[WITH_POLICY])
    print(
        f"{label}: no policy {plain:,.0f} ns, 20-statement policy {with_policy:,.0f} ns,"
        f" difference {with_policy - plain:+,.0f} ns (medians of {repeats} x {iterations:,})"
    )


_I_REFS = re.compile(r"I\s+refs:\s+([\d,]+)")


def _instructions(bucket: str, iterations: int, store: bool) -> int:
    with tempfile.TemporaryDirectory(prefix="authz-micro-") as work:
        out = Path(work) / "cachegrind.out"
        result = subprocess.run(
            [
                "valgrind",
                "--tool=cachegrind",
                "--cache-sim=no",
                f"--cachegrind-out-file={out}",
                sys.executable,
                "-m",
                "bench.authz_micro",
                "--child",
                bucket,
                "--iterations",
                str(iterations),
                *(["--store"] if store else []),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    found = _I_REFS.search(result.stderr)
    if found is None:
        raise RuntimeError(f"no I refs in valgrind's output:\n{result.stderr[-2000:]}")
    return int(found.group(1).replace(",", ""))


def _cachegrind(iterations: int, store: bool) -> None:
    what = "store read" if store else "decision"
    per: dict[str, float] = {}
    for name in BUCKETS:
        low = _instructions(name, iterations, store)
        high = _instructions(name, 5 * iterations, store)
        per[name] = (high - low) / (4 * iterations)
        print(f"{name}: {per[name]:,.0f} instructions per {what}")
    print(f"the policy adds {per[WITH_POLICY] - per[PLAIN]:+,.0f} instructions per {what}")


def _profile(iterations: int) -> None:
    bucket = BUCKETS[WITH_POLICY]
    decide(bucket)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(iterations):
        decide(bucket)
    profiler.disable()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.authz_micro", description=__doc__)
    parser.add_argument("--iterations", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--store", action="store_true", help="the bucket read, not the decision")
    parser.add_argument("--cachegrind", action="store_true", help="count instructions")
    parser.add_argument("--profile", action="store_true", help="cProfile the policy bucket")
    parser.add_argument("--child", choices=list(BUCKETS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cachegrind:
        _cachegrind(args.iterations, args.store)
        return
    if args.profile:
        _profile(args.iterations)
        return
    with tempfile.TemporaryDirectory(prefix="authz-micro-") as work:
        store = _open_store(Path(work)) if args.store else None
        if args.child is None:
            _timings(args.iterations, args.repeats, store)
            return
        # Under valgrind: warm up (parse the policy, fill the memos), then the counted loop.
        bucket = BUCKETS[args.child]
        if store is None:
            decide(bucket)
            loop(bucket, args.iterations)
        else:
            store_loop(store, bucket, 1)
            store_loop(store, bucket, args.iterations)


if __name__ == "__main__":
    main()
