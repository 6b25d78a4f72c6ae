"""SIGTERM with an upload in flight, and an overwrite racing a GET in flight.

A graceful stop waits at most ``shutdown_timeout`` for requests in flight, then cancels them; a
cancelled upload must leave no object or the complete one, never a prefix. A GET that started
before an overwrite must return the old bytes whole (the old blob outlives the GET).
"""

from __future__ import annotations

import hashlib
import os
import signal
import time
from pathlib import Path

import pytest

from probe.probe_support import SlowUpload, temporary_files, wait_until
from support.rawclient import raw_client_for
from support.server import ServerProcess, running_server

pytestmark = pytest.mark.probe

MIB = 1024 * 1024
SHUTDOWN_TIMEOUT = 3.0


def test_sigterm_during_upload(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = {"ANDROMEDE_SHUTDOWN_TIMEOUT": str(SHUTDOWN_TIMEOUT)}
    with running_server(data_dir, extra_env=env) as server:
        raw = raw_client_for(server)
        assert raw.request("PUT", "/term").status == 200
        stream = raw.open_signed("PUT", "/term/inflight", content_length=16 * MIB)
        # About 2.5 MiB/s: the 16 MiB cannot arrive within the shutdown timeout.
        upload = SlowUpload(stream, 16 * MIB, os.urandom(128 * 1024), pause=0.05)
        upload.start()
        assert wait_until(lambda: upload.sent >= MIB, 10)

        assert server.process is not None
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        code = server.process.wait(SHUTDOWN_TIMEOUT + 10)
        elapsed = time.monotonic() - started
        upload.stop()
        stream.close()
        assert code == 0, server.log_path.read_text()[-3000:] if server.log_path else code
        assert elapsed < SHUTDOWN_TIMEOUT + 3, f"stopped in {elapsed:.1f}s"

        server.start()
        raw = raw_client_for(server)
        head = raw.request("HEAD", "/term/inflight")
        if head.status == 200:  # the server chose to finish it: then it must be all of it
            got = raw.request("GET", "/term/inflight")
            assert got.body == upload.expected_body()
        else:
            assert head.status == 404
        # The cancelled writer aborts and removes its temporary: no sweep is needed for that.
        assert not temporary_files(data_dir), temporary_files(data_dir)


def test_overwrite_during_get_returns_old_bytes(server: ServerProcess) -> None:
    raw = raw_client_for(server)
    bucket = f"race-{os.urandom(6).hex()}"
    assert raw.request("PUT", f"/{bucket}").status == 200
    # Larger than the socket buffers, so most of the body is still on disk when the PUT lands.
    old = os.urandom(24 * MIB)
    new = os.urandom(24 * MIB)
    assert raw.request("PUT", f"/{bucket}/obj", body=old).status == 200

    stream = raw.open_signed("GET", f"/{bucket}/obj", content_length=None)
    response = stream.begin()
    assert response.status == 200
    digest = hashlib.sha256()
    first = response.read(256 * 1024)
    digest.update(first)
    assert raw.request("PUT", f"/{bucket}/obj", body=new).status == 200
    received = len(first)
    while chunk := response.read(1024 * 1024):
        digest.update(chunk)
        received += len(chunk)
    response.close()
    assert received == len(old)
    assert digest.hexdigest() == hashlib.sha256(old).hexdigest(), "the GET mixed old and new"
    assert raw.request("GET", f"/{bucket}/obj").body == new
    raw.request("DELETE", f"/{bucket}/obj")
    raw.request("DELETE", f"/{bucket}")
