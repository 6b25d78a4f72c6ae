"""The timing hook of ``bench.cpu_per_op --time-functions``, in a real child process: it times
a module function (also where another module imported it by name), a method and a coroutine,
counts every call, charges thread CPU rather than wall time, survives a fork, and reports a
name it cannot time; ``read_timings`` sums the processes' files."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from bench.cpu_per_op import TIMING_HOOK, read_timings

_MODULE = """
import time

def spin(seconds):
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass

def sleep(seconds):
    time.sleep(seconds)

class Worker:
    def work(self):
        spin(0.002)

async def coroutine():
    spin(0.002)
"""

_CALLER = """
from timed_module import spin

def call_spin():
    spin(0.001)
"""

_MAIN = """
import asyncio, os, sys, time
import timed_module, caller

deadline = time.monotonic() + 10
while not hasattr(timed_module.Worker.work, "__wrapped__") or not hasattr(
    timed_module.coroutine, "__wrapped__"
):  # the hook's thread patches once the modules are imported
    assert time.monotonic() < deadline, "never patched"
    time.sleep(0.01)
for _ in range(5):
    caller.call_spin()
    timed_module.Worker().work()
    asyncio.run(timed_module.coroutine())
timed_module.sleep(0.05)
if len(sys.argv) > 1:  # a forked child counts its own calls only
    child = os.fork()
    if child == 0:
        timed_module.Worker().work()
        sys.exit(0)  # at exit, the child writes its own file
    os.waitpid(child, 0)
"""


def _run(tmp_path: Path, *argv: str) -> Path:
    (tmp_path / "timed_module.py").write_text(textwrap.dedent(_MODULE))
    (tmp_path / "caller.py").write_text(textwrap.dedent(_CALLER))
    (tmp_path / "main.py").write_text(textwrap.dedent(_MAIN))
    out = tmp_path / "out"
    specs = [
        "timed_module:spin",
        "timed_module:sleep",
        "timed_module:Worker.work",
        "timed_module:coroutine",
        "timed_module:Worker.absent",
        "never_imported:function",
    ]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(TIMING_HOOK), str(tmp_path)]),
        "ANDROMEDE_TIME_FUNCTIONS": ",".join(specs),
        "ANDROMEDE_TIME_FUNCTIONS_DIR": str(out),
    }
    subprocess.run(
        [sys.executable, str(tmp_path / "main.py"), *argv],
        env=env,
        check=True,
        timeout=60,
        cwd=tmp_path,
    )
    return out


def test_every_call_counted_with_its_thread_cpu(tmp_path: Path) -> None:
    counts, missing = read_timings(_run(tmp_path))
    spins, spin_ns = counts["timed_module:spin"]
    # Called through the module that imported it by name, and from the method and coroutine.
    assert spins == 15
    assert spin_ns >= 5 * 1_000_000 + 10 * 2_000_000
    assert counts["timed_module:Worker.work"][0] == 5
    assert counts["timed_module:Worker.work"][1] >= 5 * 2_000_000
    calls, coroutine_ns = counts["timed_module:coroutine"]
    assert calls == 5
    assert coroutine_ns >= 5 * 2_000_000
    # A sleep is wall time, not CPU: far less than its 50 ms is charged.
    slept_calls, slept_ns = counts["timed_module:sleep"]
    assert slept_calls == 1
    assert slept_ns < 25_000_000
    assert missing["timed_module:Worker.absent"] == "not a function of that class"
    assert missing["never_imported:function"] == "its module was never imported"


def test_a_forked_child_writes_its_own_counts(tmp_path: Path) -> None:
    out = _run(tmp_path, "fork")
    files = sorted(out.glob("*.tsv"))
    assert len(files) == 2
    works = sorted(_calls(path).get("timed_module:Worker.work", 0) for path in files)
    assert works == [1, 5]  # the child's one call, not the parent's five again
    summed, _ = read_timings(out)
    assert summed["timed_module:Worker.work"][0] == 6


def _calls(path: Path) -> dict[str, int]:
    """One process's file: calls per timed function."""
    fields = [line.split("\t") for line in path.read_text().splitlines()]
    return {spec: int(calls) for spec, calls, _ in fields if calls != "missing"}


def test_no_folder_no_timings(tmp_path: Path) -> None:
    assert read_timings(tmp_path / "absent") == ({}, {})
