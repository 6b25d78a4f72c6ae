"""The order in which a parallel run hands the suite's test files to xdist's workers.

xdist's ``worksteal`` scheduler (the Makefile's) cuts the collected items, in order, into one
contiguous chunk per worker (the first ``n // workers`` items to the first, and so on); a worker
runs its chunk front to back, and an idle worker steals the back half of the longest queue. So
where a test sits in the collection decides which worker runs it and when: sorted to the front,
every long test landed in the first worker's chunk and ran there one after another, the last
starting minutes into the run (decision 0110).

Here the long files (``tests/durations.toml``, measured; a file with a test marked ``slow``
and no measure counts as ``DEFAULT_SLOW_SECONDS``) are dealt to as many bins as there are
workers, longest first, each to the bin with the least work so far, and each bin opens a
worker's chunk: every worker starts on its share of the long files at once, the longest
first, and the short files behind them are what the others steal. A file moves whole, so its
module-scoped fixtures (a server, a guest) are still set up once.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

__all__ = [
    "DEFAULT_SLOW_SECONDS",
    "DURATIONS",
    "file_seconds",
    "order_for_worksteal",
    "worksteal_chunk_sizes",
]

T = TypeVar("T")

DURATIONS = Path(__file__).parent.parent / "durations.toml"
# A file with a ``slow`` test that the durations file does not know yet: long enough to go
# first, not so long that it outweighs the measured ones.
DEFAULT_SLOW_SECONDS = 60.0


def file_seconds(path: Path = DURATIONS) -> dict[str, float]:
    """Seconds of worker time per test file, keyed by its path from the repository root."""
    with path.open("rb") as stream:
        return {name: float(seconds) for name, seconds in tomllib.load(stream)["files"].items()}


def worksteal_chunk_sizes(count: int, workers: int) -> list[int]:
    """How many of ``count`` items each worker is first sent: what
    ``WorkStealingScheduling.check_schedule`` computes when every node is idle."""
    sizes = []
    remaining = count
    for index in range(workers):
        size = remaining // (workers - index)
        sizes.append(size)
        remaining -= size
    return sizes


def order_for_worksteal(
    items: Sequence[T],
    workers: int,
    file_of: Callable[[T], str],
    seconds_of: Callable[[str, list[T]], float],
) -> list[T]:
    """``items`` reordered so that each of the ``workers`` chunks opens with its share of the
    long files (``seconds_of`` > 0), dealt longest first to the least loaded share; the short
    files keep their order and fill the rest of each chunk."""
    files: dict[str, list[T]] = {}
    for item in items:
        files.setdefault(file_of(item), []).append(item)
    weights = {name: seconds_of(name, members) for name, members in files.items()}
    long_files = sorted(
        (name for name, weight in weights.items() if weight > 0),
        key=lambda name: (-weights[name], name),
    )
    bins: list[list[T]] = [[] for _ in range(workers)]
    loads = [0.0] * workers
    for name in long_files:
        least = min(range(workers), key=lambda index: (loads[index], index))
        bins[least].extend(files[name])
        loads[least] += weights[name]
    short = [item for name, members in files.items() if weights[name] <= 0 for item in members]
    ordered: list[T] = []
    for size, share in zip(worksteal_chunk_sizes(len(items), workers), bins, strict=True):
        ordered.extend(share)
        fill = max(0, size - len(share))
        ordered.extend(short[:fill])
        del short[:fill]
    ordered.extend(short)
    return ordered
