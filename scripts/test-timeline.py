#!/usr/bin/env python3
"""Read a run's timeline (``ANDROMEDE_TEST_TIMELINE``, tests/support/timeline.py): per worker,
its tests, busy and idle seconds and when it finished; the test files by CPU seconds where the
timeline has them (the files to cut first on a machine whose cores are all busy); then the
longest tests with the worker and the second of the run they started at.

    ANDROMEDE_TEST_TIMELINE=/tmp/run.jsonl make test
    python3 scripts/test-timeline.py /tmp/run.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("timeline", type=Path)
    parser.add_argument("--top", type=int, default=25, help="longest tests shown (default 25)")
    args = parser.parse_args()
    records = [json.loads(line) for line in args.timeline.read_text().splitlines() if line]
    if not records:
        print("no test in the timeline", file=sys.stderr)
        return 1
    origin = min(record["start"] for record in records)
    finish = max(record["end"] for record in records)
    by_worker: dict[str, list[dict[str, float]]] = defaultdict(list)
    for record in records:
        by_worker[record["worker"]].append(record)
    print(f"{len(records)} tests, {finish - origin:.0f} s from the first start to the last end")
    print("| worker | tests | busy (s) | idle (s) | last end (s) |")
    print("|---|--:|--:|--:|--:|")
    for worker, runs in sorted(by_worker.items()):
        busy = sum(run["end"] - run["start"] for run in runs)
        last = max(run["end"] for run in runs) - origin
        print(f"| {worker} | {len(runs)} | {busy:.0f} | {last - busy:.0f} | {last:.0f} |")
    if any("cpu" in record for record in records):
        cpu: dict[str, float] = defaultdict(float)
        wall: dict[str, float] = defaultdict(float)
        for record in records:
            name = str(record["test"]).split("::", 1)[0]
            cpu[name] += float(record.get("cpu", 0.0))
            wall[name] += record["end"] - record["start"]
        total = sum(cpu.values())
        print(f"\nCPU in the workers' cgroups: {total:.0f} s; the {args.top} files using most:")
        print("| file | CPU (s) | share | wall (s) |")
        print("|---|--:|--:|--:|")
        for name, seconds in sorted(cpu.items(), key=lambda item: -item[1])[: args.top]:
            print(f"| {name} | {seconds:.0f} | {seconds / total:.1%} | {wall[name]:.0f} |")
    print(f"\nlongest {args.top} (seconds, worker, started at):")
    for record in sorted(records, key=lambda r: r["start"] - r["end"])[: args.top]:
        took = record["end"] - record["start"]
        print(f"{took:7.1f}  {record['worker']}  {record['start'] - origin:6.0f}  {record['test']}")
    print_failures(records)
    return 0


# The outcomes that make a run fail; "unknown" is a test whose reports never all came in.
FAILING = ("failed", "error", "xpassed", "unknown")


def print_failures(records: list[dict[str, Any]]) -> None:
    """The outcomes counted, then each failing test with its worker and the second of the run
    it ended at (timelines written before outcomes were recorded have none: nothing printed)."""
    outcomes = Counter(str(record["outcome"]) for record in records if "outcome" in record)
    if not outcomes:
        return
    origin = min(record["start"] for record in records)
    counts = ", ".join(f"{count} {outcome}" for outcome, count in sorted(outcomes.items()))
    failing = [record for record in records if record.get("outcome") in FAILING]
    print(f"\noutcomes: {counts}; {len(failing)} failing (outcome, worker, ended at):")
    for record in sorted(failing, key=lambda r: r["end"]):
        ended = record["end"] - origin
        print(f"{record['outcome']:>8}  {record['worker']}  {ended:6.0f}  {record['test']}")


if __name__ == "__main__":
    sys.exit(main())
