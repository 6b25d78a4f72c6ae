"""The access log of a real ``andromede serve``: every request's line is written, by one process
or by each worker, though lines are batched (``log_flush_interval``), because SIGTERM ends the
server through a clean exit that writes what is left."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from support.rawclient import raw_client_for
from support.server import running_server

pytestmark = pytest.mark.probe


@pytest.mark.parametrize("workers", [1, 2])
def test_every_access_line_is_written_by_a_sigterm_stop(tmp_path: Path, workers: int) -> None:
    # An interval far longer than the test: only the stop can write the lines.
    env = {"ANDROMEDE_WORKERS": str(workers), "ANDROMEDE_LOG_FLUSH_INTERVAL": "60"}
    with running_server(tmp_path / "data", extra_env=env) as server:
        raw = raw_client_for(server)
        assert raw.request("PUT", "/logged").status == 200
        for n in range(20):
            assert raw.request("GET", f"/logged/missing-{n}").status == 404
        assert server.stop() == 0
        assert server.log_path is not None
        log = server.log_path.read_text()
    served = re.findall(r"andromede\.access: .* GET /logged/missing-(\d+) 404 ", log)
    assert sorted(map(int, served)) == list(range(20))
