"""The order targets run their workloads in, and the ratio of two targets' paired runs.

A target's workloads are a plan of steps, one step per repetition of a workload. The sequential
mode runs the whole plan on one target, then on the next. The interleaved mode runs each step on
every target in turn before the next step, the targets' order reversed on odd repetitions
(A B, B A, A B, ...: a load that drifts linearly over the run weighs on both sides alike), so
that the two runs of a repetition, one per target, ran back to back under the same conditions.
The ratio of two targets is then taken per repetition and the median taken over those ratios.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from bench.workloads import WorkloadSpec

__all__ = [
    "PairedRatio",
    "Step",
    "StepRunner",
    "TargetRatio",
    "interleaved_order",
    "paired_ratios",
    "run_interleaved",
    "run_sequential",
]


@dataclass(frozen=True)
class Step:
    """One repetition of one workload: ``repeat`` counts from 0 to ``repeats - 1``."""

    spec: WorkloadSpec
    repeat: int
    repeats: int
    # Sample the server's resident memory during the run (the large-object workloads).
    sample_rss: bool = False

    @property
    def last(self) -> bool:
        return self.repeat == self.repeats - 1


class StepRunner(Protocol):
    """One running target's side of the plan: its buckets, its keys, its runs."""

    async def prepare(self) -> None: ...

    async def run(self, step: Step) -> None: ...


async def run_sequential(plan: Sequence[Step], runner: StepRunner) -> None:
    """The whole plan on one target, step after step; a failure stops it."""
    await runner.prepare()
    for step in plan:
        await runner.run(step)


def interleaved_order(plan: Sequence[Step], names: Sequence[str]) -> Iterator[tuple[str, Step]]:
    """Each step on every target in turn, in the given order on even repetitions and the
    reverse on odd ones."""
    for step in plan:
        order = names if step.repeat % 2 == 0 else list(reversed(names))
        for name in order:
            yield name, step


async def run_interleaved(
    plan: Sequence[Step], runners: Mapping[str, StepRunner]
) -> dict[str, Exception]:
    """The plan on every target, step by step; returns the targets that failed and why.

    A target that fails (a bucket it cannot create, a server gone) is left out of the rest of
    the plan; the others go on. Individual request failures are not exceptions: a workload run
    counts them.
    """
    failures: dict[str, Exception] = {}
    for name, runner in runners.items():
        try:
            await runner.prepare()
        except (RuntimeError, OSError) as exc:
            failures[name] = exc
    for name, step in interleaved_order(plan, list(runners)):
        if name in failures:
            continue
        try:
            await runners[name].run(step)
        except (RuntimeError, OSError) as exc:
            failures[name] = exc
    return failures


@dataclass(frozen=True)
class PairedRatio:
    """``numerator`` ÷ ``denominator`` ops/s on one workload, one ratio per repetition that
    both measured."""

    workload: str
    ratios: tuple[float, ...]

    @property
    def median(self) -> float | None:
        return statistics.median(self.ratios) if self.ratios else None


def paired_ratios(
    numerator: Mapping[str, Mapping[int, float]],
    denominator: Mapping[str, Mapping[int, float]],
) -> list[PairedRatio]:
    """Per workload (workload → repetition → ops/s on each side), the ratio of each
    repetition's pair, in the numerator's workload order.

    A repetition one side did not run (a GET after a PUT that wrote nothing), or whose
    denominator measured nothing, makes no pair.
    """
    ratios = []
    for workload, mine in numerator.items():
        theirs = denominator.get(workload, {})
        pairs = tuple(
            mine[repeat] / theirs[repeat]
            for repeat in sorted(mine)
            if repeat in theirs and theirs[repeat] > 0
        )
        ratios.append(PairedRatio(workload, pairs))
    return ratios


@dataclass(frozen=True)
class TargetRatio:
    """``numerator`` ÷ ``denominator`` on every workload both measured (none when either
    target failed)."""

    numerator: str
    denominator: str
    workloads: tuple[PairedRatio, ...]
