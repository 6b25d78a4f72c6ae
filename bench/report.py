"""The bench's output: a rich table on the terminal and one JSON document on disk."""

from __future__ import annotations

import json
import math
import os
import platform
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.ceilings import Ceilings
from bench.schedule import TargetRatio
from bench.workloads import Op, WorkloadResult

__all__ = [
    "GOALS",
    "Goal",
    "GoalCheck",
    "TargetResult",
    "check_goals",
    "print_report",
    "rgw_pairs",
    "scaling_pairs",
    "to_json",
    "write_json",
]

RADOS_TARGET = "andromede-rados"
RGW_TARGET = "rgw"
SCALED = "-x2"
_WORKERS = re.compile(r"-w[0-9]+")
_INLINE = "-inline"


@dataclass(frozen=True)
class TargetResult:
    """One server's results, or why it could not be measured."""

    name: str
    description: str
    fsync: bool
    workloads: tuple[WorkloadResult, ...] = ()
    failure: str = ""
    list_fill_failures: int = 0
    # The machine's 1-minute load average when the target's workloads started and ended.
    load_average: tuple[float, float] | None = None

    @property
    def is_andromede(self) -> bool:
        return self.name.startswith("andromede")


def _ceiling(result: WorkloadResult, ceilings: Ceilings) -> float | None:
    """The relevant ceiling in MiB/s, for the large-object workloads only."""
    if result.spec.size < (1 << 20):
        return None
    return ceilings.put_large if result.spec.op is Op.PUT else ceilings.get_large


@dataclass(frozen=True)
class Goal:
    """andromede's ops/s on a workload must be at least ``min_ratio`` times RGW's."""

    workload: str
    min_ratio: float


# Issue 6's targets, on the same single-node Ceph cluster: 4 KiB GET at least RGW's, 4 KiB PUT
# at least 80 % (andromede also commits a durable PostgreSQL transaction), 64 MiB GET 80 %.
GOALS = (Goal("GET 4 KiB", 1.0), Goal("PUT 4 KiB", 0.8), Goal("GET 64 MiB", 0.8))


@dataclass(frozen=True)
class GoalCheck:
    """One goal measured: andromede target against RGW target with as many gateways."""

    target: str
    peer: str
    workload: str
    ops_s: float
    peer_ops_s: float
    ratio: float
    min_ratio: float

    @property
    def met(self) -> bool:
        return self.ratio >= self.min_ratio


def rgw_pairs(names: Sequence[str]) -> list[tuple[str, str]]:
    """(andromede on RADOS, RGW) target pairs with the same number of gateways: one radosgw
    process uses every core with its threads, so ``andromede-rados-w2`` (one gateway of two
    workers) is paired with ``rgw`` as well as ``andromede-rados`` (one worker) is, and so are
    the ``-inline`` variants (small objects in PostgreSQL rows)."""
    pairs = []
    for name in names:
        if name.startswith(RADOS_TARGET):
            suffix = _WORKERS.sub("", name.removeprefix(RADOS_TARGET)).replace(_INLINE, "")
            peer = RGW_TARGET + suffix
            if peer in names:
                pairs.append((name, peer))
    return pairs


def scaling_pairs(names: Sequence[str]) -> list[tuple[str, str]]:
    """(one gateway, two gateways) target pairs: ``x`` and ``x-x2``, both measured."""
    return [
        (name[: -len(SCALED)], name)
        for name in names
        if name.endswith(SCALED) and name[: -len(SCALED)] in names
    ]


def _ops(target: TargetResult, workload: str) -> float | None:
    found = next((w for w in target.workloads if w.spec.name == workload), None)
    return found.ops_s if found is not None else None


def check_goals(targets: Sequence[TargetResult], goals: Sequence[Goal] = GOALS) -> list[GoalCheck]:
    """Each goal for each measured (andromede on RADOS, RGW) pair."""
    measured = {t.name: t for t in targets if t.workloads}
    checks = []
    for name, peer in rgw_pairs(list(measured)):
        for goal in goals:
            mine, theirs = _ops(measured[name], goal.workload), _ops(measured[peer], goal.workload)
            if mine is None or not theirs:
                continue
            checks.append(
                GoalCheck(name, peer, goal.workload, mine, theirs, mine / theirs, goal.min_ratio)
            )
    return checks


def _print_goals(console: Console, targets: Sequence[TargetResult]) -> None:
    checks = check_goals(targets)
    if not checks:
        return
    table = Table(title="Issue 6 targets: andromede (PostgreSQL + RADOS) vs Ceph RGW, same cluster")
    for column in ("andromede", "vs", "workload"):
        table.add_column(column, no_wrap=True)
    for column in ("andromede ops/s", "RGW ops/s", "ratio", "target"):
        table.add_column(column, justify="right")
    table.add_column("result")
    for check in checks:
        table.add_row(
            check.target,
            check.peer,
            check.workload,
            _fmt(check.ops_s),
            _fmt(check.peer_ops_s),
            f"{check.ratio:.2f}x",
            f">= {check.min_ratio:.1f}x",
            "[green]met[/green]" if check.met else "[red]not met[/red]",
        )
    console.print(table)


def _print_scaling(console: Console, targets: Sequence[TargetResult]) -> None:
    measured = {t.name: t for t in targets if t.workloads}
    pairs = scaling_pairs(list(measured))
    if not pairs:
        return
    table = Table(title="One gateway to two: ops/s and the ratio")
    table.add_column("workload", no_wrap=True)
    for one, two in pairs:
        table.add_column(one, justify="right")
        table.add_column(two, justify="right")
        table.add_column("x2 ÷ x1", justify="right")
    for workload in (w.spec.name for w in measured[pairs[0][0]].workloads):
        row = [workload]
        for one, two in pairs:
            single, double = _ops(measured[one], workload), _ops(measured[two], workload)
            row += [_fmt(single), _fmt(double)]
            row.append(f"{double / single:.2f}" if single and double is not None else "—")
        table.add_row(*row)
    console.print(table)


def _print_cpu(console: Console, targets: Sequence[TargetResult]) -> None:
    """Cores kept busy by each process group during each workload: what limited it."""
    with_parts = [t for t in targets if any(w.cores_by_part for w in t.workloads)]
    if not with_parts:
        return
    parts: list[str] = []
    for target in with_parts:
        for result in target.workloads:
            parts.extend(p for p in result.cores_by_part if p not in parts)
    table = Table(
        title="CPU during each workload, in cores (CPU seconds ÷ wall seconds); "
        f"the machine has {os.cpu_count()}",
    )
    table.add_column("target", no_wrap=True)
    table.add_column("workload", no_wrap=True)
    table.add_column("bench client", justify="right")
    for part in parts:
        table.add_column(part, justify="right")
    table.add_column("total", justify="right")
    for target in with_parts:
        for index, result in enumerate(target.workloads):
            client = result.client_cpu_pct / 100
            cores = [result.cores_by_part.get(part) for part in parts]
            total = client + sum(c for c in cores if c is not None)
            table.add_row(
                target.name if index == 0 else "",
                result.spec.name,
                _fmt(client, 2),
                *(_fmt(c, 2) for c in cores),
                _fmt(total, 2),
                end_section=index == len(target.workloads) - 1,
            )
    console.print(table)


def _print_ratio(console: Console, targets: Sequence[TargetResult], ratio: TargetRatio) -> None:
    """A ÷ B per workload as the median of each repetition's ratio: with --interleave both
    runs of a repetition ran back to back, so the machine's drift cancels in each ratio."""
    a, b = ratio.numerator, ratio.denominator
    if not ratio.workloads:
        console.print(f"[red]{a} ÷ {b}: not measured on both[/red]")
        return
    measured = {t.name: t for t in targets}
    table = Table(title=f"{a} ÷ {b}: ops/s ratio of each repetition's pair, then their median")
    table.add_column("workload", no_wrap=True)
    table.add_column(f"{a} ops/s", justify="right")
    table.add_column(f"{b} ops/s", justify="right")
    table.add_column("per repetition", justify="right")
    table.add_column(f"{a} ÷ {b}", justify="right")
    for paired in ratio.workloads:
        median = paired.median
        table.add_row(
            paired.workload,
            _fmt(_ops(measured[a], paired.workload) if a in measured else None),
            _fmt(_ops(measured[b], paired.workload) if b in measured else None),
            " ".join(f"{r:.2f}" for r in paired.ratios) or "—",
            f"{median:.2f}" if median is not None else "—",
        )
    console.print(table)


def _fmt(value: float | None, digits: int = 1) -> str:
    if value is None or math.isnan(value):
        return "—"
    return f"{value:,.{digits}f}"


def print_report(
    console: Console,
    targets: Sequence[TargetResult],
    ceilings: Ceilings,
    elapsed_s: float,
    *,
    interleaved: bool = False,
    ratio: TargetRatio | None = None,
) -> None:
    measured = [t for t in targets if t.workloads]
    references = [t for t in measured if t.is_andromede]
    table = Table(
        title="S3 workloads: medians of repeats, latency percentiles pooled; ratios are of ops/s",
        caption="% of ceiling: large PUT vs min(best fsync'd write, MD5), "
        "large GET vs min(loopback TCP, read, AES-GCM)",
    )
    for column in ("workload", "target", "fsync"):
        table.add_column(column, no_wrap=True)
    for column in ("ops/s", "MiB/s", "p50 ms", "p99 ms", "errors"):
        table.add_column(column, justify="right")
    table.add_column("server CPU ms/op", justify="right")
    table.add_column("max RSS MiB", justify="right")
    table.add_column("% of ceiling", justify="right")
    for reference in references:
        table.add_column(f"{reference.name} ÷ this", justify="right", min_width=len(reference.name))
    names = [w.spec.name for w in measured[0].workloads] if measured else []
    for index, name in enumerate(names):
        for target in measured:
            result = next((w for w in target.workloads if w.spec.name == name), None)
            if result is None:
                continue
            ceiling = _ceiling(result, ceilings)
            row = [
                name if target is measured[0] else "",
                target.name,
                "yes" if target.fsync else "no",
                _fmt(result.ops_s),
                _fmt(result.mib_s),
                _fmt(result.p50_ms, 2),
                _fmt(result.p99_ms, 2),
                f"[red]{result.errors}[/red]" if result.errors else "0",
                _fmt(result.server_cpu_ms_per_op, 2),
                _fmt(result.max_rss_mib, 0),
                f"{100 * result.mib_s / ceiling:.0f} %" if ceiling else "—",
            ]
            for reference in references:
                mine = next((w for w in reference.workloads if w.spec.name == name), None)
                if reference is target or mine is None or not result.ops_s:
                    row.append("—")
                else:
                    row.append(f"{mine.ops_s / result.ops_s:.2f}x")
            table.add_row(*row, end_section=target is measured[-1] and index < len(names) - 1)
    console.print(table)
    if interleaved:
        console.print(
            "interleaved: every target ran each workload repetition in turn, "
            "the order reversed on odd repetitions (A B, B A, ...)"
        )
    if ratio is not None:
        _print_ratio(console, targets, ratio)
    for target in targets:
        if target.failure:
            console.print(f"[red]{target.name}: not measured: {target.failure}[/red]")
        for result in target.workloads:
            for kind, count in result.error_kinds.items():
                console.print(f"[red]{target.name} {result.spec.name}: {count} x {kind}[/red]")
        if target.list_fill_failures:
            console.print(
                f"[red]{target.name}: {target.list_fill_failures} failed PUTs filling the "
                "LIST bucket[/red]"
            )
    for target in targets:
        load = ""
        if target.load_average is not None:
            load = " (load average {:.1f} → {:.1f})".format(*target.load_average)
        console.print(f"[dim]{target.name}: {target.description}{load}[/dim]")
    _print_cpu(console, targets)
    _print_scaling(console, targets)
    _print_goals(console, targets)

    ceiling_table = Table(title="Machine ceilings (MiB/s, one core unless noted)")
    ceiling_table.add_column("measure")
    ceiling_table.add_column("MiB/s", justify="right")
    rows = [
        ("write 256 MiB in 1 MiB blocks + fsync", ceilings.fsync_write),
        ("same, 4 threads x 64 MiB, each fsync", ceilings.fsync_write_parallel),
        ("read back, page cache", ceilings.read_warm),
        ("read back, cold (cache dropped)", ceilings.read_cold),
        ("MD5", ceilings.md5),
        ("SHA-256", ceilings.sha256),
        ("CRC32C", ceilings.crc32c),
        ("CRC32 (zlib)", ceilings.crc32),
        ("AES-256-GCM seal, 64 KiB chunks", ceilings.aes_gcm_seal),
        ("AES-256-GCM open, 64 KiB chunks", ceilings.aes_gcm_open),
        ("loopback TCP, 1 MiB sends (2 threads)", ceilings.loopback_tcp),
        ("→ large PUT ceiling: min(best fsync write, MD5)", ceilings.put_large),
        ("→ large GET ceiling: min(loopback, read, AES-GCM)", ceilings.get_large),
    ]
    for label, value in rows:
        ceiling_table.add_row(label, _fmt(value, 0))
    console.print(ceiling_table)
    console.print(f"bench took {elapsed_s:.0f} s")


def _workload_json(result: WorkloadResult) -> dict[str, Any]:
    spec = result.spec
    return {
        "name": spec.name,
        "op": spec.op.value,
        "object_size": spec.size,
        "concurrency": spec.concurrency,
        "duration_cap_s": spec.duration_s,
        "ops_cap": spec.max_ops,
        "repeats": result.repeats,
        "ops": result.ops,
        "ops_s": result.ops_s,
        "mib_s": result.mib_s,
        "p50_ms": None if math.isnan(result.p50_ms) else result.p50_ms,
        "p99_ms": None if math.isnan(result.p99_ms) else result.p99_ms,
        "errors": result.errors,
        "error_kinds": result.error_kinds,
        "client_cpu_pct": result.client_cpu_pct,
        "server_cpu_ms_per_op": result.server_cpu_ms_per_op,
        "max_rss_mib": result.max_rss_mib,
        "cores_by_part": result.cores_by_part,
        "runs": [
            {
                "ops": run.ops,
                "elapsed_s": run.elapsed_s,
                "ops_s": run.ops / run.elapsed_s,
                "errors": sum(run.errors.values()),
                "client_cpu_s": run.client_cpu_s,
                "server_cpu_s": run.server_cpu_s,
                "max_rss_bytes": run.max_rss_bytes,
                "cpu_s_by_part": run.cpu_s_by_part,
            }
            for run in result.runs
        ],
    }


def to_json(
    targets: Sequence[TargetResult],
    ceilings: Ceilings,
    *,
    started: str,
    elapsed_s: float,
    settings: dict[str, Any],
    interleaved: bool = False,
    ratio: TargetRatio | None = None,
) -> dict[str, Any]:
    ratios: dict[str, dict[str, dict[str, float]]] = {}
    for reference in (t for t in targets if t.is_andromede and t.workloads):
        per_peer: dict[str, dict[str, float]] = {}
        for peer in (t for t in targets if t is not reference and t.workloads):
            mine = {w.spec.name: w.ops_s for w in reference.workloads}
            per_peer[peer.name] = {
                w.spec.name: mine[w.spec.name] / w.ops_s
                for w in peer.workloads
                if w.spec.name in mine and w.ops_s
            }
        ratios[reference.name] = per_peer
    document: dict[str, Any] = {
        "started": started,
        "elapsed_s": elapsed_s,
        "settings": settings,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "ceilings_mib_s": {
            **asdict(ceilings),
            "put_large": ceilings.put_large,
            "get_large": ceilings.get_large,
        },
        "targets": [
            {
                "name": t.name,
                "description": t.description,
                "fsync": t.fsync,
                "failure": t.failure or None,
                "list_fill_failures": t.list_fill_failures,
                "load_average": t.load_average,
                "workloads": [_workload_json(w) for w in t.workloads],
            }
            for t in targets
        ],
        "ratios_ops_s": ratios,
        "goals": [{**asdict(check), "met": check.met} for check in check_goals(targets)],
    }
    if interleaved:
        document["interleaved"] = (
            "every target ran each workload repetition in turn, the order reversed on odd "
            "repetitions"
        )
    if ratio is not None:
        document["ratio"] = {
            "numerator": ratio.numerator,
            "denominator": ratio.denominator,
            "method": "ops/s ratio of each repetition's pair, then the median of those ratios",
            "workloads": {
                paired.workload: {"median": paired.median, "per_repeat": list(paired.ratios)}
                for paired in ratio.workloads
            },
        }
    return document


def write_json(document: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
