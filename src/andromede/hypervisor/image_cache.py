"""The host's copies of machine images: ``<state dir>/images/<image-id>.<sha256>``, read-only.

The control plane keeps an image's bytes (``compute/images.py``) and sends them to each host that
needs them (:meth:`~andromede.compute.driver.HypervisorDriver.put_image`); a host never reads the
gateway's disk. A copy is written to ``.<image-id>.<random>.partial`` while its SHA-256 and size
are counted, fsynced, checked against the checksum the control plane recorded at import, and
only then renamed to its name and made read-only (0400): a copy under its name is whole and
verified, and a mismatch, a cut stream or an oversized one leaves nothing. The checksum is part
of the name, so a file is checked once, when written, not at every use.

The format the control plane recorded is checked against the bytes too: a ``qcow2`` copy must
start with the qcow2 magic and name no backing file (a tenant's image naming
``/etc/shadow`` as its backing file would have QEMU read the host's file into the guest), and a
``raw`` one must not look like a qcow2.

One lock per image id: two puts of one image at once (two instances launched together) write
it once; the second waits and finds it. :meth:`HostImages.forget` removes a copy; whether a
volume still reads from it is the volume backend's to say (files: the overlays name it).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
import secrets
import struct
from collections.abc import AsyncIterator
from pathlib import Path

from andromede.hypervisor.errors import HypervisorError, ImageRefused
from andromede.hypervisor.volumes import safe_id

__all__ = ["DISK_FORMATS", "HostImages"]

logger = logging.getLogger(__name__)

DISK_FORMATS = frozenset({"qcow2", "raw"})
_QCOW2_MAGIC = b"QFI\xfb"
_HEADER = 16  # magic, version, backing_file_offset
_PARTIAL = ".partial"


class HostImages:
    """Verified, read-only image copies in one directory of the host's state."""

    def __init__(self, directory: Path, *, max_size: int) -> None:
        self.directory = directory
        self._max_size = max_size
        self._locks: dict[str, asyncio.Lock] = {}
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)

    def path(self, image_id: str, sha256: str) -> Path:
        return self.directory / f"{safe_id(image_id)}.{_checked_digest(sha256)}"

    def has(self, image_id: str, sha256: str) -> bool:
        return self.path(image_id, sha256).is_file()

    def lock(self, image_id: str) -> asyncio.Lock:
        """Held while the image is written, removed, or a volume is made over it."""
        return self._locks.setdefault(image_id, asyncio.Lock())

    def copies(self, image_id: str) -> list[Path]:
        """Every copy of the image (one, unless it was put again with another checksum)."""
        return sorted(self.directory.glob(f"{safe_id(image_id)}.*"))

    async def put(
        self, image_id: str, sha256: str, disk_format: str, chunks: AsyncIterator[bytes]
    ) -> Path:
        """The verified copy of the image, written from ``chunks`` unless it is already here
        (then ``chunks`` is not read)."""
        if disk_format not in DISK_FORMATS:
            raise ImageRefused(f"image {image_id}: unknown disk format {disk_format[:16]!r}")
        final = self.path(image_id, sha256)
        async with self.lock(image_id):
            if final.is_file():
                return final
            partial = self.directory / f".{safe_id(image_id)}.{secrets.token_hex(4)}{_PARTIAL}"
            try:
                await self._write(image_id, sha256, disk_format, chunks, partial)
                os.chmod(partial, 0o400)
                os.replace(partial, final)
            finally:
                partial.unlink(missing_ok=True)
            logger.info("image %s: verified copy kept (%s)", image_id, disk_format)
            return final

    async def _write(
        self,
        image_id: str,
        sha256: str,
        disk_format: str,
        chunks: AsyncIterator[bytes],
        partial: Path,
    ) -> None:
        digest = hashlib.sha256()
        header = b""
        size = 0
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as stream:
            async for chunk in chunks:
                size += len(chunk)
                if size > self._max_size:
                    raise ImageRefused(f"image {image_id} is larger than {self._max_size} bytes")
                if len(header) < _HEADER:
                    header += chunk[: _HEADER - len(header)]
                digest.update(chunk)
                await asyncio.to_thread(stream.write, chunk)
            await asyncio.to_thread(stream.flush)
            await asyncio.to_thread(os.fsync, stream.fileno())
        if not hmac.compare_digest(digest.hexdigest(), sha256.lower()):
            raise ImageRefused(f"image {image_id}: the bytes received do not match its SHA-256")
        _check_format(image_id, disk_format, header)

    def forget(self, image_id: str) -> list[Path]:
        """Remove every copy of the image (the caller holds :meth:`lock`); returns them."""
        removed = self.copies(image_id)
        # Partial writes a crash left behind go too (none is in flight: the lock is held).
        for path in [*removed, *self.directory.glob(f".{safe_id(image_id)}.*{_PARTIAL}")]:
            path.unlink(missing_ok=True)
        return removed


def _checked_digest(sha256: str) -> str:
    digest = sha256.lower()
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise HypervisorError("an image checksum must be 64 hex digits (SHA-256)")
    return digest


def _check_format(image_id: str, disk_format: str, header: bytes) -> None:
    is_qcow2 = header[:4] == _QCOW2_MAGIC
    if disk_format == "raw" and is_qcow2:
        raise ImageRefused(f"image {image_id} is recorded as raw but is a qcow2")
    if disk_format == "qcow2":
        if not is_qcow2 or len(header) < _HEADER:
            raise ImageRefused(f"image {image_id} is recorded as qcow2 but is not one")
        (backing_offset,) = struct.unpack(">Q", header[8:16])
        if backing_offset:
            raise ImageRefused(f"image {image_id} names a backing file: refused")
