"""Memory per request is bounded by the chunk size, whatever the object size.

Uploads then downloads one big object, generated and checked on the fly (never held in RAM by
the test), and samples the VmRSS of the server and its workers throughout: it must grow by less
than 64 MiB. The size is the issue's 5 GiB (the largest single PUT); ``ANDROMEDE_TEST_BIG_SIZE``
(bytes) sets another.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
from pathlib import Path

import pytest

from support.rawclient import raw_client_for
from support.server import ServerProcess, running_server

pytestmark = [pytest.mark.probe, pytest.mark.slow]

MIB = 1024 * 1024
BIG_SIZE = int(os.environ.get("ANDROMEDE_TEST_BIG_SIZE", str(5 * 1024 * MIB)))
RSS_GROWTH_LIMIT_KIB = 64 * 1024


class RssSampler(threading.Thread):
    def __init__(self, server: ServerProcess) -> None:
        super().__init__(daemon=True)
        self.server = server
        self.peak_kib = server.rss_kib()
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(0.05):
            self.peak_kib = max(self.peak_kib, self.server.rss_kib())

    def stop(self) -> int:
        self._stop_event.set()
        self.join(5)
        return self.peak_kib


def test_big_object_round_trip_in_bounded_memory(tmp_path: Path) -> None:
    with running_server(tmp_path / "data") as server:
        raw = raw_client_for(server, timeout=60)
        assert raw.request("PUT", "/big").status == 200
        # Warm up: the first requests load code and caches that belong in the baseline.
        for _ in range(3):
            assert raw.request("PUT", "/big/warm", body=os.urandom(4 * MIB)).status == 200
            assert len(raw.request("GET", "/big/warm").body) == 4 * MIB
        baseline = server.rss_kib()
        sampler = RssSampler(server)
        sampler.start()

        block = os.urandom(MIB)
        md5 = hashlib.md5()  # noqa: S324 - S3's ETag
        stream = raw.open_signed("PUT", "/big/object", content_length=BIG_SIZE)
        sent = 0
        while sent < BIG_SIZE:
            piece = block[: BIG_SIZE - sent]
            stream.send(piece)
            md5.update(piece)
            sent += len(piece)
        put = stream.response()
        assert put.status == 200, put.body[:300]
        assert put.header("etag") == f'"{md5.hexdigest()}"'

        # Each piece read is compared with the bytes sent at its offset: exact, and it names
        # where a difference is, for a fraction of the CPU a second MD5 of 5 GiB costs.
        response = raw.open_signed("GET", "/big/object", content_length=None).begin()
        assert response.status == 200
        repeated = block + block
        received = 0
        while chunk := response.read(MIB):
            start = received % MIB
            assert chunk == repeated[start : start + len(chunk)], f"bytes differ after {received}"
            received += len(chunk)
        response.close()
        peak = sampler.stop()
        assert received == BIG_SIZE
        growth = peak - baseline
        assert growth < RSS_GROWTH_LIMIT_KIB, f"VmRSS grew by {growth} KiB (peak {peak} KiB)"
        assert raw.request("DELETE", "/big/object").status == 204
    # The blob itself waits for the sweeper's grace period: 5 GiB that pytest would keep for
    # its last three runs (a third of the disk a CI machine may have free).
    shutil.rmtree(tmp_path / "data")
