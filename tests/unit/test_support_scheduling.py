"""The suite's order for xdist's ``worksteal``: checked against the scheduler installed, so a
release of xdist that hands out its first chunks differently fails here, not in CI's wall
time (tests/support/scheduling.py, decision 0110)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from xdist.scheduler.worksteal import WorkStealingScheduling

from support.scheduling import (
    DURATIONS,
    file_seconds,
    order_for_worksteal,
    worksteal_chunk_sizes,
)

ROOT = Path(__file__).parents[2]


class _Config:
    """What ``WorkStealingScheduling`` reads of pytest's config: the workers' specs."""

    def __init__(self, workers: int) -> None:
        self.workers = workers

    def getvalue(self, name: str) -> list[str]:
        assert name == "tx"
        return [f"{self.workers}*popen"]


class _Node:
    """A worker as the scheduler sees it: it records what it is sent."""

    shutting_down = False

    def __init__(self, name: str) -> None:
        self.gateway = SimpleNamespace(id=name)
        self.sent: list[int] = []
        self.told_to_stop = False

    def send_runtest_some(self, indices: list[int]) -> None:
        self.sent.extend(indices)

    def send_steal(self, indices: list[int]) -> None:
        raise AssertionError("nothing is stolen before the first test ends")

    def shutdown(self) -> None:
        self.told_to_stop = True  # an idle worker with nothing to steal: tiny collections


def _first_batches(collection: list[str], workers: int) -> list[list[str]]:
    scheduler = WorkStealingScheduling(_Config(workers))  # type: ignore[arg-type]
    nodes = [_Node(f"gw{index}") for index in range(workers)]
    for node in nodes:
        scheduler.add_node(node)  # type: ignore[arg-type]
    for node in nodes:
        scheduler.add_node_collection(node, collection)  # type: ignore[arg-type]
    scheduler.schedule()
    return [[collection[index] for index in node.sent] for node in nodes]


def _file(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def _suite() -> tuple[list[str], dict[str, float]]:
    """Sixty short files of ten tests, and four long ones placed among them."""
    items = []
    for number in range(60):
        items += [f"tests/unit/test_{number:02}.py::test_{case}" for case in range(10)]
    long = {
        "tests/e2e/test_terraform.py": 560.0,
        "tests/e2e/test_ec2_debian.py": 300.0,
        "tests/probe/test_memory.py": 65.0,
        "tests/contract/test_hypervisor.py": 370.0,
    }
    for position, name in zip((5, 170, 333, 590), long, strict=True):
        items[position:position] = [f"{name}::test_{case}" for case in range(3)]
    return items, long


def _seconds(long: dict[str, float]) -> Any:
    return lambda name, _members: long.get(name, 0.0)


def test_worksteal_starts_each_worker_on_its_longest_file() -> None:
    items, long = _suite()
    ordered = order_for_worksteal(items, 3, _file, _seconds(long))
    batches = _first_batches(ordered, 3)
    # The three longest files each open a different worker's first batch.
    assert [_file(batch[0]) for batch in batches] == [
        "tests/e2e/test_terraform.py",
        "tests/contract/test_hypervisor.py",
        "tests/e2e/test_ec2_debian.py",
    ]
    # The fourth goes after the least loaded one's (300 s), not after the 560 s of Terraform.
    debian = [_file(nodeid) for nodeid in batches[2]]
    assert debian[:6] == ["tests/e2e/test_ec2_debian.py"] * 3 + ["tests/probe/test_memory.py"] * 3
    assert sorted(nodeid for batch in batches for nodeid in batch) == sorted(items)


def test_the_previous_order_put_every_long_file_on_one_worker() -> None:
    """What 0110 replaced, kept as the reason: long tests sorted to the front all fall in the
    first chunk, and run one after another on one worker."""
    items, long = _suite()
    slow_first = sorted(items, key=lambda nodeid: _file(nodeid) not in long)
    batches = _first_batches(slow_first, 3)
    assert {_file(nodeid) for nodeid in batches[0]} >= set(long)
    assert not {_file(nodeid) for batch in batches[1:] for nodeid in batch} & set(long)


def test_a_file_moves_whole_and_short_files_keep_their_order() -> None:
    items, long = _suite()
    ordered = order_for_worksteal(items, 3, _file, _seconds(long))
    for name in long:
        positions = [index for index, nodeid in enumerate(ordered) if _file(nodeid) == name]
        assert positions == list(range(positions[0], positions[0] + 3)), name
    short = [nodeid for nodeid in ordered if _file(nodeid) not in long]
    assert short == [nodeid for nodeid in items if _file(nodeid) not in long]


def test_chunk_sizes_are_the_schedulers() -> None:
    for count in (0, 1, 2, 7, 6_404):
        for workers in (1, 2, 3, 4):
            collection = [f"t{index}" for index in range(count)]
            if count:
                sizes = [len(batch) for batch in _first_batches(collection, workers)]
            else:
                sizes = [0] * workers
            assert worksteal_chunk_sizes(count, workers) == sizes, (count, workers)


def test_the_durations_file_names_test_files_of_this_tree() -> None:
    measured = file_seconds(DURATIONS)
    assert measured, "an empty durations file orders nothing"
    missing = [name for name in measured if not (ROOT / name).is_file()]
    assert missing == [], "renamed or removed: regenerate tests/durations.toml"
    assert all(seconds > 0 for seconds in measured.values())


def test_the_durations_are_read_from_a_run_s_timeline(tmp_path: Path) -> None:
    """CI keeps its runs' timelines, not their JUnit XML (decision 0412): a file's seconds are
    its tests' wall seconds summed, the files under ``--min`` left out, the longest first."""
    lines = [
        {"test": "tests/e2e/test_a.py::t1", "start": 100.0, "end": 130.0},
        {"test": "tests/e2e/test_a.py::t2[x]", "start": 130.0, "end": 145.5},
        {"test": "tests/e2e/test_b.py::t", "start": 100.0, "end": 190.0},
        {"test": "tests/e2e/test_c.py::t", "start": 100.0, "end": 103.0},
    ]
    timeline = tmp_path / "run.jsonl"
    timeline.write_text("".join(json.dumps(line) + "\n" for line in lines))
    written = subprocess.run(
        [sys.executable, str(ROOT / "scripts/test-durations.py"), "--timeline", str(timeline),
         "--min", "8"],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    durations = tmp_path / "durations.toml"
    durations.write_text(written)
    assert file_seconds(durations) == {"tests/e2e/test_b.py": 90.0, "tests/e2e/test_a.py": 46.0}
    assert written.index("test_b.py") < written.index("test_a.py")
