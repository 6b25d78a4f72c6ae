"""What bucket-policy evaluation costs a 4 KiB GET: the same server, two buckets, one with no
policy and one with a 20-statement policy, read alternately in one run.

``python -m bench.policy_overhead [--seconds S] [--repeats N] [--control]`` starts
``andromede serve`` (uvicorn) on a fresh data dir, writes the same 4 KiB objects in both
buckets, then runs GET 4 KiB at concurrency 16 on each bucket in turn, ``repeats`` times (in
ABBA order, so the shared machine's drift falls on both), and prints the medians and their
ratio. The issue's target: the policy adds under 5 % to the p50. ``--control`` leaves the
second bucket without its policy too: the ratio the benchmark reports for two identical
buckets, which is its own bias and spread (the second bucket's objects are written after the
first's), not the policy's.

The policy is realistic rather than trivial: 19 statements about other principals, actions and
prefixes (with conditions) and one Deny for GetObject conditioned on the source address, which
the engine has to evaluate on every GET and which never matches a loopback client.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import statistics
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.client import Connection
from bench.targets import Endpoint, andromede_target
from bench.workloads import KIB, Op, Payload, RunResult, S3Session, WorkloadSpec, run_workload

PLAIN = "bench-plain"
WITH_POLICY = "bench-policy"


def twenty_statements(bucket: str) -> str:
    arn = f"arn:aws:s3:::{bucket}"
    statements: list[dict[str, object]] = []
    for index in range(19):
        statements.append(
            {
                "Sid": f"Partner{index}",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{100000000000 + index}:root"},
                "Action": ["s3:GetObject", "s3:PutObject"] if index % 2 else "s3:ListBucket",
                "Resource": f"{arn}/team{index}/*" if index % 2 else arn,
                "Condition": {"IpAddress": {"aws:SourceIp": f"10.{index}.0.0/16"}},
            }
        )
    statements.append(
        {
            "Sid": "OnlyFromOurNetworks",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": f"{arn}/*",
            "Condition": {"NotIpAddress": {"aws:SourceIp": ["127.0.0.0/8", "10.0.0.0/8"]}},
        }
    )
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


async def _put_policy(session: S3Session, conn: Connection, bucket: str) -> None:
    body = twenty_statements(bucket).encode()
    head = session.head("PUT", f"/{bucket}", "policy=", length=len(body))
    response = await conn.request(head, body)
    if response.status != 204:
        raise RuntimeError(f"PutBucketPolicy: {response.status} {response.body[:300]!r}")


async def _run(
    endpoint: Endpoint, seconds: float, repeats: int, *, control: bool = False
) -> dict[str, list[RunResult]]:
    session = endpoint.session()
    conn = session.connection()
    try:
        for bucket in (PLAIN, WITH_POLICY):
            await session.create_bucket(conn, bucket)
        if not control:
            await _put_policy(session, conn, WITH_POLICY)
    finally:
        conn.close()
    payload = Payload.random(4 * KIB)
    put = WorkloadSpec("PUT 4 KiB", Op.PUT, 4 * KIB, 16, 60.0, 2_000)
    keys: dict[str, list[str]] = {}
    for bucket in (PLAIN, WITH_POLICY):
        _, keys[bucket] = await run_workload(
            session, put, bucket=bucket, payload=payload, key_prefix="k/"
        )
    get = WorkloadSpec("GET 4 KiB", Op.GET, 4 * KIB, 16, seconds, 1_000_000)
    runs: dict[str, list[RunResult]] = {PLAIN: [], WITH_POLICY: []}
    for repeat in range(repeats):
        # ABBA order: a drift of the shared machine during the run falls on both buckets alike.
        order = (PLAIN, WITH_POLICY) if repeat % 2 == 0 else (WITH_POLICY, PLAIN)
        for bucket in order:
            run, _ = await run_workload(
                session,
                get,
                bucket=bucket,
                payload=payload,
                keys=keys[bucket],
                probe=endpoint.probe,
            )
            runs[bucket].append(run)
    return runs


def median_interval(ordered: list[float], confidence: float = 0.95) -> tuple[float, float] | None:
    """A distribution-free confidence interval of the median of ``ordered`` (ascending): the
    order statistics ``k`` and ``n + 1 - k`` for the largest ``k`` with P(Binomial(n, ½) < k)
    at most (1 - confidence) / 2. None when there are too few values for one (n < 6 at 95 %)."""
    n = len(ordered)
    tail = (1 - confidence) / 2
    below = 0.0  # P(Binomial(n, 1/2) < k) for the k under test
    k = 0
    while True:
        below_next = below + math.comb(n, k) / 2**n
        if below_next > tail:
            break
        below, k = below_next, k + 1
    if k < 1:
        return None
    return ordered[k - 1], ordered[n - k]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.policy_overhead", description=__doc__)
    parser.add_argument("--seconds", type=float, default=8.0, help="per GET run")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--control",
        action="store_true",
        help="no policy on either bucket: what the benchmark reports when there is nothing to find",
    )
    args = parser.parse_args()
    console = Console()
    with tempfile.TemporaryDirectory(prefix="andromede-policy-bench-") as work:
        with andromede_target("uvicorn")(Path(work)) as endpoint:
            runs = asyncio.run(_run(endpoint, args.seconds, args.repeats, control=args.control))
    table = Table(title="GET 4 KiB, concurrency 16: bucket policy cost (medians over repeats)")
    for column in ("bucket", "ops/s", "p50 ms", "p99 ms", "server CPU ms/op", "errors"):
        table.add_column(column, justify="right")
    medians: dict[str, tuple[float, float]] = {}
    for bucket, results in runs.items():
        ops = statistics.median(r.ops / r.elapsed_s for r in results)
        p50 = statistics.median(statistics.median(r.latencies_ms) for r in results)
        p99 = statistics.median(
            sorted(r.latencies_ms)[int(len(r.latencies_ms) * 0.99) - 1] for r in results
        )
        cpu = statistics.median(1000 * (r.server_cpu_s or 0.0) / max(r.ops, 1) for r in results)
        errors = sum(sum(r.errors.values()) for r in results)
        medians[bucket] = (ops, p50)
        label = "no policy" if bucket == PLAIN else "20-statement policy"
        if args.control:
            label = f"{bucket} (control: no policy)"
        table.add_row(label, f"{ops:,.0f}", f"{p50:.2f}", f"{p99:.2f}", f"{cpu:.3f}", str(errors))
    console.print(table)
    plain_ops, plain_p50 = medians[PLAIN]
    policy_ops, policy_p50 = medians[WITH_POLICY]
    console.print(
        f"p50 with policy / without: {policy_p50 / plain_p50:.3f} "
        f"(target < 1.05); ops/s ratio {policy_ops / plain_ops:.3f}"
    )
    # Each repeat ran both buckets back to back: the ratio within a repeat cancels the shared
    # machine's slower drift, which the ratio of the two medians above does not.
    paired = sorted(
        statistics.median(with_policy.latencies_ms) / statistics.median(plain.latencies_ms)
        for plain, with_policy in zip(runs[PLAIN], runs[WITH_POLICY], strict=True)
    )
    spread = ""
    if len(paired) >= 4:
        low, _, high = statistics.quantiles(paired, n=4)
        spread = f", quartiles {low:.3f}-{high:.3f}"
    interval = median_interval(paired)
    if interval is not None:
        spread += f", 95 % interval of the median {interval[0]:.3f}-{interval[1]:.3f}"
    console.print(
        f"p50 ratio within each repeat: median {statistics.median(paired):.3f} over "
        f"{len(paired)} repeats{spread}"
    )


if __name__ == "__main__":
    main()
