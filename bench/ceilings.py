"""The machine's own ceilings, measured in the same run as the servers.

Each figure is what one core (or the disk, or loopback TCP) can do at best, so a server's
throughput can be read as a share of what the hardware allows: a 64 MiB PUT cannot beat the
slower of fsync'd writes and MD5; a 64 MiB GET cannot beat the slowest of loopback TCP, reading
the file and AES-256-GCM.
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import crc32c
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = ["Ceilings", "measure_ceilings"]

MIB = 1 << 20
_BLOCK = os.urandom(MIB)
_GCM_CHUNK = 64 << 10  # the chunk size Andromède seals objects with


@dataclass(frozen=True)
class Ceilings:
    """MiB/s figures; disk reads are both cold (page cache dropped) and warm."""

    fsync_write: float
    fsync_write_parallel: float
    read_cold: float
    read_warm: float
    md5: float
    sha256: float
    crc32c: float
    crc32: float
    aes_gcm_seal: float
    aes_gcm_open: float
    loopback_tcp: float

    @property
    def put_large(self) -> float:
        """The best a large PUT can do: the data is hashed (MD5) and written durably.

        Four concurrent fsync'd writers (as in the 64 MiB PUT workload) can beat one on a disk
        with a deep queue, so the better of the two write figures is the ceiling.
        """
        return min(max(self.fsync_write, self.fsync_write_parallel), self.md5)

    @property
    def get_large(self) -> float:
        """The best a large GET can do: read, decrypted, sent over loopback."""
        return min(self.loopback_tcp, self.read_warm, self.aes_gcm_open)


def _rate(step: Callable[[], int], seconds: float) -> float:
    """MiB/s of calling `step` (which returns bytes processed) for about `seconds`."""
    done = 0
    started = time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        done += step()
    return done / MIB / elapsed


def _hash_rate(factory: Callable[[], hashlib._Hash], seconds: float) -> float:
    digest = factory()

    def step() -> int:
        digest.update(_BLOCK)
        return MIB

    return _rate(step, seconds)


def _disk(directory: Path, size_mib: int) -> tuple[float, float, float]:
    path = directory / "ceiling-write.tmp"
    try:
        started = time.perf_counter()
        _write_fsync(path, size_mib)
        write = size_mib / (time.perf_counter() - started)

        def read_all() -> float:
            fd = os.open(path, os.O_RDONLY)
            buffer = bytearray(MIB)
            started = time.perf_counter()
            try:
                while os.readv(fd, [buffer]):
                    pass
            finally:
                os.close(fd)
            return size_mib / (time.perf_counter() - started)

        warm = read_all()
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
        cold = read_all()
        return write, cold, warm
    finally:
        path.unlink(missing_ok=True)


def _write_fsync(path: Path, size_mib: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for _ in range(size_mib):
            os.write(fd, _BLOCK)
        os.fsync(fd)
    finally:
        os.close(fd)


def _parallel_write(directory: Path, size_mib: int, writers: int) -> float:
    """`writers` threads each writing and fsyncing size_mib / writers MiB (the GIL is released)."""
    paths = [directory / f"ceiling-write-{index}.tmp" for index in range(writers)]
    threads = [
        threading.Thread(target=_write_fsync, args=(path, size_mib // writers)) for path in paths
    ]
    started = time.perf_counter()
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return size_mib / (time.perf_counter() - started)
    finally:
        for path in paths:
            path.unlink(missing_ok=True)


def _aes_gcm(seconds: float) -> tuple[float, float]:
    aead = AESGCM(AESGCM.generate_key(bit_length=256))
    nonce = os.urandom(12)
    chunk = _BLOCK[:_GCM_CHUNK]
    sealed = aead.encrypt(nonce, chunk, b"aad")

    def seal() -> int:
        aead.encrypt(nonce, chunk, b"aad")
        return _GCM_CHUNK

    def open_() -> int:
        aead.decrypt(nonce, sealed, b"aad")
        return _GCM_CHUNK

    return _rate(seal, seconds), _rate(open_, seconds)


def _loopback(seconds: float) -> float:
    """One sender thread and one receiver over 127.0.0.1, 1 MiB blocks."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        sender = socket.create_connection(listener.getsockname())
        receiver, _ = listener.accept()
    stop = threading.Event()

    def send() -> None:
        try:
            while not stop.is_set():
                sender.sendall(_BLOCK)
        except OSError:
            pass
        finally:
            sender.close()

    thread = threading.Thread(target=send, daemon=True)
    buffer = bytearray(MIB)
    received = 0
    thread.start()
    started = time.perf_counter()
    try:
        while (elapsed := time.perf_counter() - started) < seconds:
            received += receiver.recv_into(buffer)
    finally:
        stop.set()
        receiver.close()
        thread.join()
    return received / MIB / elapsed


def measure_ceilings(directory: Path, *, write_mib: int = 256, seconds: float = 0.5) -> Ceilings:
    """Measure every ceiling; `directory` must be on the disk the servers write to."""
    directory.mkdir(parents=True, exist_ok=True)
    write, cold, warm = _disk(directory, write_mib)
    parallel = _parallel_write(directory, write_mib, 4)
    seal, open_ = _aes_gcm(seconds)

    def crc32_step() -> int:
        zlib.crc32(_BLOCK)
        return MIB

    def crc32c_step() -> int:
        crc32c.crc32c(_BLOCK)
        return MIB

    return Ceilings(
        fsync_write=write,
        fsync_write_parallel=parallel,
        read_cold=cold,
        read_warm=warm,
        md5=_hash_rate(lambda: hashlib.md5(usedforsecurity=False), seconds),
        sha256=_hash_rate(hashlib.sha256, seconds),
        crc32c=_rate(crc32c_step, seconds),
        crc32=_rate(crc32_step, seconds),
        aes_gcm_seal=seal,
        aes_gcm_open=open_,
        loopback_tcp=_loopback(seconds),
    )
