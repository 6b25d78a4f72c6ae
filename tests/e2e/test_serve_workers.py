"""``andromede serve`` with two uvicorn workers (the default) forks them from a template, itself a
fork of the serving process taken after the application was imported — not from
``multiprocessing``'s fork server, which imports it once more (decision 0115)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from support.rawclient import raw_client_for
from support.server import running_server

pytestmark = pytest.mark.e2e


def _children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _command(pid: int) -> bytes:
    return Path(f"/proc/{pid}/cmdline").read_bytes()


def test_workers_are_forked_from_a_template_of_the_serving_process(tmp_path: Path) -> None:
    with running_server(tmp_path / "data") as server:
        assert server.process is not None
        serving = server.process.pid
        every = server.pids()
        assert not [pid for pid in every if b"multiprocessing" in _command(pid)]
        (template,) = _children(serving)  # nothing else: no fork server, no resource tracker
        assert _command(template) == _command(serving)
        workers = _children(template)
        assert len(workers) == 2
        assert all(_command(worker) == _command(serving) for worker in workers)
        # A supervisor's SIGTERM reaches every process: the template outlives the drain.
        os.kill(template, signal.SIGTERM)
        time.sleep(0.5)
        assert Path(f"/proc/{template}").exists()
        assert raw_client_for(server).request("PUT", "/forked").status == 200
        assert server.stop() == 0
        assert server.log_path is not None
        log = server.log_path.read_text()
    assert "fork server" not in log
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() for pid in every) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in every if Path(f"/proc/{pid}").exists()]
