"""``kill -9`` during uploads: after a restart no partial object exists, acknowledged objects are
intact, and the sweeper removes every temporary and unreferenced blob the crash left behind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from probe.probe_support import SWEEP_ENV, SlowUpload, blob_files, temporary_files, wait_until
from support.rawclient import raw_client_for
from support.server import ServerProcess, running_server

pytestmark = pytest.mark.probe

MIB = 1024 * 1024


def test_kill_9_mid_body_leaves_no_partial_object(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with running_server(data_dir) as server:
        raw = raw_client_for(server)
        assert raw.request("PUT", "/crash").status == 200
        acknowledged = {f"done-{n}": os.urandom(200_000 + n) for n in range(3)}
        for key, body in acknowledged.items():
            assert raw.request("PUT", f"/crash/{key}", body=body).status == 200

        uploads = {}
        for n in range(3):
            stream = raw.open_signed("PUT", f"/crash/partial-{n}", content_length=8 * MIB)
            upload = SlowUpload(stream, 8 * MIB, os.urandom(64 * 1024), pause=0.05)
            upload.start()
            uploads[f"partial-{n}"] = upload
        # Past the blob writer's 1 MiB buffer: the temporaries exist on disk when we kill.
        assert wait_until(lambda: all(u.sent >= 2 * MIB for u in uploads.values()), 15)
        assert wait_until(lambda: len(temporary_files(data_dir)) >= 1, 5)
        server.kill()
        for upload in uploads.values():
            upload.stop()
            upload.stream.close()
        assert all(u.sent < u.total for u in uploads.values()), "an upload finished before kill"

        server.start()
        raw = raw_client_for(server)
        for key in uploads:
            assert raw.request("HEAD", f"/crash/{key}").status == 404, key
        for key, body in acknowledged.items():
            got = raw.request("GET", f"/crash/{key}")
            assert got.status == 200, key
            assert got.body == body, key
        server.stop()

        _restart_with_sweeper(server)
        _assert_swept(server, expected_blobs=len(acknowledged))
        raw = raw_client_for(server)
        for key, body in acknowledged.items():
            assert raw.request("GET", f"/crash/{key}").body == body, "the sweeper took a live blob"


def _restart_with_sweeper(server: ServerProcess) -> None:
    server.extra_env = {**server.extra_env, **SWEEP_ENV}
    server.start()


def _assert_swept(server: ServerProcess, expected_blobs: int) -> None:
    data_dir = server.data_dir
    swept = wait_until(
        lambda: not temporary_files(data_dir) and len(blob_files(data_dir)) == expected_blobs,
        timeout=15,
    )
    assert swept, (temporary_files(data_dir), len(blob_files(data_dir)), expected_blobs)


def test_workers_end_when_the_serving_process_is_killed(tmp_path: Path) -> None:
    # Only the parent gets SIGKILL (no process group): its workers must notice and stop, rather
    # than keep the port and serve from a deployment that is supposedly down.
    import signal
    import socket

    from support.server import free_port

    server = ServerProcess(
        data_dir=tmp_path / "data", port=free_port(), extra_env={"ANDROMEDE_WORKERS": "2"}
    )
    server.start()
    try:
        assert server.process is not None
        parent = server.process.pid
        assert wait_until(lambda: len(server.pids()) >= 3, 15)  # the parent and two workers
        workers = [pid for pid in server.pids() if pid != parent]
        os.kill(parent, signal.SIGKILL)
        server.process.wait(5)

        def gone() -> bool:
            return not any(Path(f"/proc/{pid}").exists() for pid in workers)

        assert wait_until(gone, 15)
        with pytest.raises(OSError), socket.create_connection(("127.0.0.1", server.port), 1):
            pass
    finally:
        server.kill()
