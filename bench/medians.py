"""Medians over several bench runs: `python -m bench.medians RUN1.json RUN2.json ...`.

One run on a shared machine is one sample. This prints, as Markdown, each target's ops/s per
workload as the median of the runs with the lowest and highest beside it, the issue 6 goals
checked on those medians, one-to-two-gateway scaling, and the median cores each process group
kept busy.
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.report import GOALS, rgw_pairs, scaling_pairs

__all__ = ["Spread", "main", "markdown", "spreads"]


@dataclass(frozen=True)
class Spread:
    """One figure over the runs: median, lowest, highest, and how many runs had it."""

    median: float
    low: float
    high: float
    runs: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        return cls(statistics.median(values), min(values), max(values), len(values))


def spreads(documents: Sequence[dict[str, Any]]) -> dict[str, dict[str, Spread]]:
    """target → workload → ops/s over the runs (failed targets left out)."""
    values: dict[str, dict[str, list[float]]] = {}
    for document in documents:
        for target in document["targets"]:
            if target.get("failure"):
                continue
            for workload in target["workloads"]:
                per_target = values.setdefault(target["name"], {})
                per_target.setdefault(workload["name"], []).append(workload["ops_s"])
    return {
        target: {name: Spread.of(ops) for name, ops in workloads.items()}
        for target, workloads in values.items()
    }


def _cores(documents: Sequence[dict[str, Any]]) -> dict[tuple[str, str], dict[str, float]]:
    values: dict[tuple[str, str], dict[str, list[float]]] = {}
    for document in documents:
        for target in document["targets"]:
            for workload in target.get("workloads", []):
                parts = values.setdefault((target["name"], workload["name"]), {})
                parts.setdefault("bench client", []).append(workload["client_cpu_pct"] / 100)
                for part, cores in workload.get("cores_by_part", {}).items():
                    parts.setdefault(part, []).append(cores)
    return {
        key: {part: statistics.median(v) for part, v in parts.items()}
        for key, parts in values.items()
    }


def _gateway_cpu(documents: Sequence[dict[str, Any]]) -> dict[tuple[str, str], float]:
    """(target, workload) → median server CPU ms per operation: less sensitive than ops/s to
    what else the machine runs."""
    values: dict[tuple[str, str], list[float]] = {}
    for document in documents:
        for target in document["targets"]:
            for workload in target.get("workloads", []):
                if workload.get("server_cpu_ms_per_op") is not None:
                    key = (target["name"], workload["name"])
                    values.setdefault(key, []).append(workload["server_cpu_ms_per_op"])
    return {key: statistics.median(v) for key, v in values.items()}


def _fmt(spread: Spread) -> str:
    return f"{spread.median:,.1f} ({spread.low:,.1f} to {spread.high:,.1f})"


def markdown(documents: Sequence[dict[str, Any]]) -> str:
    table = spreads(documents)
    names = list(table)
    workloads = list(next(iter(table.values()))) if table else []
    runs = max((s.runs for t in table.values() for s in t.values()), default=0)
    lines = [f"ops/s, median of {runs} runs (lowest to highest)", ""]
    lines += ["| workload | " + " | ".join(names) + " |", "|---|" + "--:|" * len(names)]
    for workload in workloads:
        cells = [_fmt(table[n][workload]) if workload in table[n] else "—" for n in names]
        lines.append(f"| {workload} | " + " | ".join(cells) + " |")
    lines += ["", "| andromede | vs | workload | ratio of medians | target | result |"]
    lines.append("|---|---|---|--:|--:|---|")
    for mine, peer in rgw_pairs(names):
        for goal in GOALS:
            if goal.workload not in table[mine] or goal.workload not in table[peer]:
                continue
            ratio = table[mine][goal.workload].median / table[peer][goal.workload].median
            result = "met" if ratio >= goal.min_ratio else "not met"
            lines.append(
                f"| {mine} | {peer} | {goal.workload} | {ratio:.2f}x | "
                f">= {goal.min_ratio:.1f}x | {result} |"
            )
    pairs = scaling_pairs(names)
    if pairs:
        lines += ["", "| workload | " + " | ".join(f"{two} ÷ {one}" for one, two in pairs) + " |"]
        lines.append("|---|" + "--:|" * len(pairs))
        for workload in workloads:
            cells = [
                f"{table[two][workload].median / table[one][workload].median:.2f}"
                for one, two in pairs
            ]
            lines.append(f"| {workload} | " + " | ".join(cells) + " |")
    cpu = _gateway_cpu(documents)
    lines += ["", "gateway CPU ms per operation (all its processes), median of the runs", ""]
    lines += ["| workload | " + " | ".join(names) + " |", "|---|" + "--:|" * len(names)]
    for workload in workloads:
        cells = [f"{cpu[(n, workload)]:.2f}" if (n, workload) in cpu else "—" for n in names]
        lines.append(f"| {workload} | " + " | ".join(cells) + " |")
    cores = _cores(documents)
    parts = list(dict.fromkeys(p for by_part in cores.values() for p in by_part))
    lines += ["", "cores busy (CPU s ÷ wall s), median of the runs", ""]
    lines += [
        "| target | workload | " + " | ".join(parts) + " |",
        "|---|---|" + "--:|" * len(parts),
    ]
    for (target, workload), by_part in cores.items():
        cells = [f"{by_part[p]:.2f}" if p in by_part else "—" for p in parts]
        lines.append(f"| {target} | {workload} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.medians", description=__doc__)
    parser.add_argument("results", type=Path, nargs="+", help="JSON files written by the bench")
    args = parser.parse_args(argv)
    print(markdown([json.loads(path.read_text()) for path in args.results]), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
