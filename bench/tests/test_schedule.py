"""The order targets run their workloads in (sequential, interleaved A B / B A), the ratio of
two targets' paired repetitions, and where that ratio is reported."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import os
import re
import threading
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path

from rich.console import Console

from bench.ceilings import Ceilings
from bench.report import TargetResult, print_report, to_json
from bench.run import LIST_KEYS, Settings, TargetBench, bench_interleaved, bench_sequential
from bench.schedule import (
    PairedRatio,
    Step,
    TargetRatio,
    interleaved_order,
    paired_ratios,
    run_interleaved,
    run_sequential,
)
from bench.sigv4 import Credentials
from bench.targets import Endpoint, ProcessTree, StartupError, TargetFactory
from bench.workloads import KIB, Op, Payload, RunResult, summarise

SETTINGS = Settings.preset(quick=False)


def _labels(steps: Sequence[Step]) -> list[str]:
    return [f"{step.spec.name} #{step.repeat}" for step in steps]


class _Recorder:
    """A runner that only records what it was asked to do, in one log shared by all."""

    def __init__(self, name: str, log: list[str], fail_on: str = "") -> None:
        self.name = name
        self.log = log
        self.fail_on = fail_on

    async def prepare(self) -> None:
        self.log.append(f"{self.name} prepare")
        if self.fail_on == "prepare":
            raise RuntimeError("CreateBucket bench: HTTP 500")

    async def run(self, step: Step) -> None:
        label = f"{step.spec.name} #{step.repeat}"
        self.log.append(f"{self.name} {label}")
        if label == self.fail_on:
            raise ConnectionRefusedError("server gone")


def test_the_plan_is_the_sequential_order_of_one_target() -> None:
    assert _labels(SETTINGS.plan()) == [
        "PUT 4 KiB #0",
        "GET 4 KiB #0",
        "PUT 4 KiB #1",
        "GET 4 KiB #1",
        "PUT 4 KiB #2",
        "GET 4 KiB #2",
        "LIST 1,000 keys #0",
        "LIST 1,000 keys #1",
        "LIST 1,000 keys #2",
        "PUT 64 MiB #0",
        "GET 64 MiB #0",
        "PUT 64 MiB #1",
        "GET 64 MiB #1",
        "PUT 64 MiB #2",
        "GET 64 MiB #2",
    ]
    assert [s.last for s in SETTINGS.plan()[:6]] == [False] * 4 + [True] * 2
    # The server's memory is sampled during the large-object runs only, as before.
    assert [s.sample_rss for s in SETTINGS.plan()] == [False] * 9 + [True] * 6
    assert len(Settings.preset(quick=True).plan()) == 5


async def test_sequential_mode_runs_the_whole_plan_on_one_target_in_order() -> None:
    log: list[str] = []
    await run_sequential(SETTINGS.plan(), _Recorder("A", log))
    assert log == ["A prepare"] + [f"A {label}" for label in _labels(SETTINGS.plan())]


def test_interleaving_alternates_the_order_per_repetition() -> None:
    plan = SETTINGS.plan()
    order = [
        f"{name} {step.spec.name} #{step.repeat}" for name, step in interleaved_order(plan, "AB")
    ]
    assert order[:8] == [
        "A PUT 4 KiB #0",
        "B PUT 4 KiB #0",
        "A GET 4 KiB #0",
        "B GET 4 KiB #0",
        "B PUT 4 KiB #1",
        "A PUT 4 KiB #1",
        "B GET 4 KiB #1",
        "A GET 4 KiB #1",
    ]
    lists = [entry for entry in order if "LIST" in entry]
    # A B B A A B: a load that drifts linearly weighs on both targets alike.
    assert [entry[0] for entry in lists] == list("ABBAAB")
    assert len(order) == 2 * len(plan)
    three = [name for name, step in interleaved_order(plan[:4], ["A", "B", "C"])]
    assert three == list("ABCABC") + list("CBACBA")


async def test_interleaved_run_prepares_all_then_steps_and_drops_a_failed_target() -> None:
    log: list[str] = []
    plan = SETTINGS.plan()[:4]
    runners = {
        "A": _Recorder("A", log),
        "B": _Recorder("B", log, fail_on="GET 4 KiB #0"),
        "C": _Recorder("C", log, fail_on="prepare"),
    }
    failures = await run_interleaved(plan, runners)
    assert set(failures) == {"B", "C"}
    assert isinstance(failures["B"], ConnectionRefusedError)
    assert log == [
        "A prepare",
        "B prepare",
        "C prepare",
        "A PUT 4 KiB #0",
        "B PUT 4 KiB #0",
        "A GET 4 KiB #0",
        "B GET 4 KiB #0",
        # B failed there: A goes on alone.
        "A PUT 4 KiB #1",
        "A GET 4 KiB #1",
    ]


def test_ratio_is_the_median_of_each_repetitions_pair() -> None:
    mine = {"PUT 4 KiB": {0: 100.0, 1: 200.0, 2: 300.0}, "GET 4 KiB": {0: 50.0, 2: 90.0}}
    theirs = {"PUT 4 KiB": {0: 100.0, 1: 400.0, 2: 150.0}, "GET 4 KiB": {0: 0.0, 1: 9.0, 2: 30.0}}
    put, get = paired_ratios(mine, theirs)
    assert put == PairedRatio("PUT 4 KiB", (1.0, 0.5, 2.0))
    # The median of the pairs' ratios, not the ratio of the medians (200 / 150).
    assert put.median == 1.0
    # A repetition one side missed, or whose denominator measured nothing, makes no pair.
    assert get == PairedRatio("GET 4 KiB", (3.0,))
    assert paired_ratios({"LIST": {0: 1.0}}, {}) == [PairedRatio("LIST", ())]
    assert PairedRatio("LIST", ()).median is None


def _target(name: str, ops: Sequence[float]) -> TargetResult:
    spec = Settings.preset(quick=True).small(Op.PUT)
    runs = [RunResult(int(o), int(o) * spec.size, 1.0, (1.0,), {}, 0.1, 0.2, None) for o in ops]
    return TargetResult(name, f"{name} description", True, (summarise(spec, runs),))


def test_the_report_and_json_carry_the_ratio_and_the_interleaving_only_when_asked() -> None:
    targets = [_target("a", [100, 200, 300]), _target("b", [100, 400, 150])]
    ratio = TargetRatio("a", "b", (PairedRatio("PUT 4 KiB", (1.0, 0.5, 2.0)),))
    ceilings = Ceilings(*([100.0] * len(Ceilings.__dataclass_fields__)))
    out = io.StringIO()
    print_report(
        Console(file=out, width=250), targets, ceilings, 1.0, interleaved=True, ratio=ratio
    )
    text = out.getvalue()
    assert "interleaved" in text
    assert re.search(r"PUT 4 KiB .* 200\.0 .* 150\.0 .* 1\.00 0\.50 2\.00 .* 1\.00", text)
    document = to_json(
        targets, ceilings, started="now", elapsed_s=1.0, settings={}, interleaved=True, ratio=ratio
    )
    assert document["interleaved"]
    assert document["ratio"]["numerator"] == "a" and document["ratio"]["denominator"] == "b"
    assert document["ratio"]["workloads"]["PUT 4 KiB"] == {
        "median": 1.0,
        "per_repeat": [1.0, 0.5, 2.0],
    }
    plain = io.StringIO()
    print_report(Console(file=plain, width=250), targets, ceilings, 1.0)
    assert "interleaved" not in plain.getvalue() and "÷ b" not in plain.getvalue()
    sequential = to_json(targets, ceilings, started="now", elapsed_s=1.0, settings={})
    assert "interleaved" not in sequential and "ratio" not in sequential


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def _fake_s3(name: str, log: list[tuple[str, str, str]]) -> Handler:
    """An in-memory S3 endpoint enough for the workloads: buckets, PUT, GET, ListObjectsV2.
    Logs (target, method, which keys) in the order requests arrive."""
    objects: dict[str, bytes] = {}

    def which(path: str) -> str:
        match = re.fullmatch(r"/bench/(\d+/\d+)/\d+", path)
        if match:
            return match.group(1)  # size/repeat
        return "fill" if path.startswith("/bench-list/") else path

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode()
                method, target, _ = head.split(" ", 2)
                path, _, query = target.partition("?")
                length = 0
                for line in head.split("\r\n"):
                    if line.lower().startswith("content-length:"):
                        length = int(line.split(":")[1])
                body = await reader.readexactly(length)
                log.append((name, method, "list" if query else which(path)))
                headers, answer = "", b""
                if method == "PUT" and path.count("/") > 1:
                    objects[path] = body
                    headers = f'ETag: "{hashlib.md5(body, usedforsecurity=False).hexdigest()}"\r\n'
                elif method == "GET" and query:
                    keys = [k for k in objects if k.startswith(path + "/")]
                    answer = "".join(f"<Key>{k}</Key>" for k in keys).encode()
                elif method == "GET":
                    answer = objects[path]
                    headers = (
                        f'ETag: "{hashlib.md5(answer, usedforsecurity=False).hexdigest()}"\r\n'
                    )
                writer.write(
                    f"HTTP/1.1 200 OK\r\n{headers}Content-Length: {len(answer)}\r\n\r\n".encode()
                    + answer
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    return handle


def _phases(log: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """The log with consecutive repeats of the same entry folded into one."""
    return [entry for index, entry in enumerate(log) if index == 0 or log[index - 1] != entry]


@contextlib.contextmanager
def _serving(handler: Handler) -> Iterator[int]:
    """Serves on its own thread and event loop, as a server process would; yields the port."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    ports: list[int] = []

    async def serve() -> None:
        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        ports.append(server.sockets[0].getsockname()[1])
        ready.set()
        async with server:
            await server.serve_forever()

    task = loop.create_task(serve())

    def run() -> None:
        with contextlib.suppress(asyncio.CancelledError):
            loop.run_until_complete(task)

    thread = threading.Thread(target=run)
    thread.start()
    try:
        assert ready.wait(10)
        yield ports[0]
    finally:
        loop.call_soon_threadsafe(task.cancel)
        thread.join(10)
        loop.close()


def _factory(name: str, log: list[tuple[str, str, str]], starts: bool = True) -> TargetFactory:
    @contextlib.contextmanager
    def target(workdir: Path) -> Iterator[Endpoint]:
        if not starts:
            raise StartupError(f"{name} exited with 1; see {workdir / 'server.log'}")
        log.append((name, "start", ""))
        with _serving(_fake_s3(name, log)) as port:
            yield Endpoint(
                name=name,
                description=f"fake {name}",
                fsync=False,
                ports=(port,),
                credentials=Credentials("AK", "SK", "us-east-1"),
                probe=ProcessTree([os.getpid()]),
            )
        log.append((name, "stop", ""))

    return target


def _small_plan() -> list[Step]:
    settings = Settings(0.1, 0.1, 0.1, 2, repeats=2, large_repeats=2)
    return [step for step in settings.plan() if step.spec.size <= 4 * KIB]


def _bench(
    mode: Callable[..., tuple[list[TargetResult], dict[str, TargetBench]]],
    tmp_path: Path,
    *extra: bool,
) -> tuple[list[tuple[str, str, str]], list[TargetResult], dict[str, TargetBench]]:
    log: list[tuple[str, str, str]] = []
    factories = {
        "A": _factory("A", log),
        "broken": _factory("broken", log, starts=False),
        "B": _factory("B", log),
    }
    payloads = {size: Payload.random(size) for size in (0, 4 * KIB)}
    console = Console(file=io.StringIO(), width=200)
    targets, benches = mode(factories, tmp_path, _small_plan(), payloads, console, *extra)
    return _phases(log), targets, benches


def _check_results(targets: list[TargetResult], benches: dict[str, TargetBench]) -> None:
    assert [t.name for t in targets] == ["A", "broken", "B"]
    assert targets[1].failure.startswith("broken exited with 1") and not targets[1].workloads
    assert set(benches) == {"A", "B"}
    for target in (targets[0], targets[2]):
        assert [w.spec.name for w in target.workloads] == [
            "PUT 4 KiB",
            "GET 4 KiB",
            f"LIST {LIST_KEYS:,} keys",
        ]
        # Every response checked (ETags, lengths, key counts): none wrong.
        assert all(w.errors == 0 and w.repeats == 2 for w in target.workloads)
        assert target.list_fill_failures == 0 and not target.failure
    for bench in benches.values():
        assert all(set(by_repeat) == {0, 1} for by_repeat in bench.repeat_ops_s.values())


def _one_target(name: str) -> list[tuple[str, str, str]]:
    return [
        (name, "PUT", "/bench"),
        (name, "PUT", "/bench-list"),
        (name, "PUT", "4096/0"),
        (name, "GET", "4096/0"),
        (name, "PUT", "4096/1"),
        (name, "GET", "4096/1"),
        (name, "PUT", "fill"),
        (name, "GET", "list"),
    ]


def test_sequential_mode_runs_one_target_after_the_other_as_before(tmp_path: Path) -> None:
    phases, targets, benches = _bench(bench_sequential, tmp_path, False)
    assert phases == [
        ("A", "start", ""),
        *_one_target("A"),
        ("A", "stop", ""),
        ("B", "start", ""),
        *_one_target("B"),
        ("B", "stop", ""),
    ]
    _check_results(targets, benches)


def test_each_target_reads_what_its_own_put_of_the_same_repetition_wrote(tmp_path: Path) -> None:
    phases, targets, benches = _bench(bench_interleaved, tmp_path)
    assert phases == [
        ("A", "start", ""),
        ("B", "start", ""),
        ("A", "PUT", "/bench"),
        ("A", "PUT", "/bench-list"),
        ("B", "PUT", "/bench"),
        ("B", "PUT", "/bench-list"),
        ("A", "PUT", "4096/0"),
        ("B", "PUT", "4096/0"),
        ("A", "GET", "4096/0"),
        ("B", "GET", "4096/0"),
        ("B", "PUT", "4096/1"),
        ("A", "PUT", "4096/1"),
        ("B", "GET", "4096/1"),
        ("A", "GET", "4096/1"),
        # The LIST bucket is filled before the target's first LIST; LIST #0 A B, #1 B A.
        ("A", "PUT", "fill"),
        ("A", "GET", "list"),
        ("B", "PUT", "fill"),
        ("B", "GET", "list"),
        ("A", "GET", "list"),
        # Stopped together at the end, the last started first.
        ("B", "stop", ""),
        ("A", "stop", ""),
    ]
    _check_results(targets, benches)
