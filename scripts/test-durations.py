#!/usr/bin/env python3
"""Write tests/durations.toml from a run's JUnit XML or timeline: the seconds each long test
file took.

    .venv/bin/pytest -n 3 --dist worksteal --junitxml=/tmp/run.xml tests bench/tests
    python3 scripts/test-durations.py /tmp/run.xml > tests/durations.toml
    python3 scripts/test-durations.py --timeline /tmp/run.jsonl > tests/durations.toml

A test case's time in pytest's JUnit XML is its setup, call and teardown together, as is a
line's end minus its start in a timeline (``ANDROMEDE_TEST_TIMELINE``, which CI's clean-clone
runs keep: decision 0412); a file's is the sum over its tests. Files under ``--min`` seconds
are left out: they are the short work the workers steal (tests/support/scheduling.py,
decision 0110).
"""

from __future__ import annotations

import argparse
import json
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_file(classname: str) -> str | None:
    """``tests.e2e.test_x.TestY`` -> ``tests/e2e/test_x.py``, the longest prefix that is a file."""
    parts = classname.split(".")
    for end in range(len(parts), 0, -1):
        candidate = "/".join(parts[:end]) + ".py"
        if (ROOT / candidate).is_file():
            return candidate
    return None


def junit_seconds(path: Path) -> dict[str, float]:
    seconds: dict[str, float] = defaultdict(float)
    for case in ET.parse(path).iter("testcase"):  # noqa: S314
        name = test_file(case.get("classname", ""))
        if name is not None:
            seconds[name] += float(case.get("time", "0"))
    return seconds


def timeline_seconds(path: Path) -> dict[str, float]:
    seconds: dict[str, float] = defaultdict(float)
    for line in path.read_text().splitlines():
        if line:
            record = json.loads(line)
            seconds[record["test"].split("::", 1)[0]] += record["end"] - record["start"]
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="the run's JUnit XML, or its timeline")
    parser.add_argument("--timeline", action="store_true", help="the run is a timeline")
    parser.add_argument("--min", type=float, default=20.0, help="seconds (default 20)")
    args = parser.parse_args()
    seconds = timeline_seconds(args.run) if args.timeline else junit_seconds(args.run)
    print(
        "# Seconds of worker time per long test file (setup + call + teardown of its tests),\n"
        "# from one run of the whole suite. Only the order of parallel runs reads it, and only\n"
        "# its proportions matter (tests/support/scheduling.py, decision 0110); regenerate\n"
        "# with scripts/test-durations.py when files grow, split or move.\n"
        "[files]"
    )
    for name, total in sorted(seconds.items(), key=lambda entry: (-entry[1], entry[0])):
        if total >= args.min:
            print(f'"{name}" = {total:.0f}')
    return 0


if __name__ == "__main__":
    sys.exit(main())
