"""A client that vanishes mid-upload: nothing becomes visible, and no file outlives a sweep."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from probe.probe_support import SWEEP_ENV, SlowUpload, blob_files, temporary_files, wait_until
from support.rawclient import raw_client_for
from support.server import running_server

pytestmark = pytest.mark.probe

MIB = 1024 * 1024


@pytest.mark.parametrize("how", ["close", "reset"])
def test_client_disconnect_mid_upload(tmp_path: Path, how: str) -> None:
    data_dir = tmp_path / "data"
    with running_server(data_dir) as server:
        raw = raw_client_for(server)
        assert raw.request("PUT", "/gone").status == 200
        assert raw.request("PUT", "/gone/kept", body=b"kept").status == 200
        # An overwrite that never completes must leave the old object whole.
        old = os.urandom(100_000)
        assert raw.request("PUT", "/gone/overwritten", body=old).status == 200

        for key in ("new", "overwritten"):
            stream = raw.open_signed("PUT", f"/gone/{key}", content_length=8 * MIB)
            upload = SlowUpload(stream, 3 * MIB, os.urandom(256 * 1024), pause=0.01)
            upload.run()  # in this thread: 3 MiB of the 8 announced, then the client goes away
            assert upload.error is None
            if how == "reset":
                stream.abort()
            else:
                stream.close()

        def writers_gone() -> bool:
            return raw.request("HEAD", "/gone/new").status == 404 and not temporary_files(data_dir)

        # The server aborts each writer as it sees the disconnect; its temporary goes with it.
        assert wait_until(writers_gone, 10), temporary_files(data_dir)
        assert raw.request("GET", "/gone/overwritten").body == old
        assert raw.request("GET", "/gone/kept").body == b"kept"
        server.stop()

        server.extra_env = {**server.extra_env, **SWEEP_ENV}
        server.start()
        # One blob: the old "overwritten" ("kept" is small enough to live in its row).
        assert wait_until(lambda: len(blob_files(data_dir)) == 1, 15), blob_files(data_dir)
        assert not temporary_files(data_dir)
        raw = raw_client_for(server)
        assert raw.request("GET", "/gone/overwritten").body == old
