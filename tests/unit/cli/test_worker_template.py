"""``start_worker_template`` forks the template only from a process with one thread; with a thread
already running it falls back to ``multiprocessing``'s fork server and keeps the reason for the
log (decision 0115). The fork path itself is driven through a real ``andromede serve``
(tests/e2e/test_serve_workers.py): this process runs threads of its own."""

from __future__ import annotations

import threading
from multiprocessing import forkserver

import pytest

from andromede.cli import worker_template, workers


def test_a_running_thread_makes_the_workers_come_from_the_fork_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    started: list[object] = []
    monkeypatch.setattr(forkserver, "set_forkserver_preload", started.append)
    monkeypatch.setattr(forkserver, "ensure_running", lambda: started.append("running"))
    monkeypatch.setattr(worker_template, "fork_template", lambda: started.append("forked"))
    monkeypatch.setattr(workers, "_fallback_reasons", [])
    monkeypatch.setattr(workers, "_template", None)
    release = threading.Event()
    thread = threading.Thread(target=release.wait, name="started-by-an-import")
    thread.start()
    try:
        workers.start_worker_template()
    finally:
        release.set()
        thread.join()
    assert started == [["andromede.cli.fork_server_preload"], "running"]
    (reason,) = workers._fallback_reasons
    assert "fork server" in reason
    assert "started-by-an-import" in reason


def test_threads_started_outside_python_are_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    # A library's own C threads are not in threading.enumerate(); the kernel lists them.
    monkeypatch.setattr(threading, "enumerate", lambda: [threading.main_thread()])
    assert len(workers._threads()) >= 1
    assert len(workers._threads()) == len(__import__("os").listdir("/proc/self/task"))
