"""What the probe tests share: looking at the data folder, waiting, and slow raw uploads.

The local blob store keeps committed blobs under ``objects/blobs/abc/<id>`` and blobs being
written under ``objects/tmp/``; the probes count files there to prove that a crash, a SIGTERM or a
client that vanished leaves nothing behind once the sweeper has run.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from support.rawclient import RawStream

__all__ = [
    "SWEEP_ENV",
    "SlowUpload",
    "blob_files",
    "temporary_files",
    "wait_until",
]

# Sweep at once and often. Only safe while no write is in flight: a zero grace lets the sweeper
# take the blob of a PUT between its blob commit and its metadata commit.
SWEEP_ENV = {"ANDROMEDE_ORPHAN_GRACE": "0", "ANDROMEDE_SWEEPER_INTERVAL": "0.5"}


def _files(top: Path) -> list[Path]:
    return sorted(p for p in top.rglob("*") if p.is_file()) if top.exists() else []


def blob_files(data_dir: Path) -> list[Path]:
    return _files(data_dir / "objects" / "blobs")


def temporary_files(data_dir: Path) -> list[Path]:
    return _files(data_dir / "objects" / "tmp")


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    """Poll ``predicate`` until it holds (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


class SlowUpload(threading.Thread):
    """Sends ``total`` bytes of ``piece`` repeated on an open request, pausing between pieces,
    until done or the connection breaks; ``sent`` counts what the socket accepted."""

    def __init__(self, stream: RawStream, total: int, piece: bytes, pause: float) -> None:
        super().__init__(daemon=True)
        self.stream = stream
        self.total = total
        self.piece = piece
        self.pause = pause
        self.sent = 0
        self.error: OSError | None = None
        self._stop_event = threading.Event()

    def run(self) -> None:
        try:
            while self.sent < self.total and not self._stop_event.is_set():
                data = self.piece[: self.total - self.sent]
                self.stream.send(data)
                self.sent += len(data)
                time.sleep(self.pause)
        except OSError as exc:
            self.error = exc

    def stop(self) -> None:
        self._stop_event.set()
        self.join(10)

    def expected_body(self) -> bytes:
        repeats = self.total // len(self.piece) + 1
        return (self.piece * repeats)[: self.total]
