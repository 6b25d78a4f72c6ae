"""Image files under ``<data_dir>/compute/images/``: written once, checksummed, read-only.

An image arrives as a stream of bytes (an object of the tenant's bucket, or the operator's
local file); it is written to a temporary file while its SHA-256 is computed, its format is
recognised (qcow2 by its magic, anything else raw), then renamed to ``<image id>.<format>``
and made read-only, since every instance's root volume is an overlay over it.

Hosts never read this folder: an image's bytes reach a host through the hypervisor port
(``put_image``), read from here as chunks (:meth:`ImageFiles.read`), and the host checks them
against the SHA-256 recorded here (docs/decisions/0023-images-on-hosts.md).
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import os
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from andromede.compute.errors import ImportFailed

__all__ = ["ImageFile", "ImageFiles"]

_QCOW2_MAGIC = b"QFI\xfb"
_GIB = 1024**3


@dataclass(frozen=True, slots=True)
class ImageFile:
    path: Path
    disk_format: str
    size_bytes: int
    virtual_size_gib: int
    sha256: str


def _virtual_size(header: bytes, size: int) -> tuple[str, int]:
    if header[:4] == _QCOW2_MAGIC and len(header) >= 32:
        (virtual,) = struct.unpack(">Q", header[24:32])
        return "qcow2", virtual
    return "raw", size


class ImageFiles:
    def __init__(self, directory: Path, max_size: int) -> None:
        self.directory = directory
        self._max_size = max_size

    async def store(self, image_id: str, chunks: AsyncIterator[bytes]) -> ImageFile:
        await asyncio.to_thread(self.directory.mkdir, mode=0o700, parents=True, exist_ok=True)
        temporary = self.directory / f".{image_id}.tmp"
        digest = hashlib.sha256()
        header = b""
        size = 0
        stream = await asyncio.to_thread(temporary.open, "wb")
        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > self._max_size:
                    raise ImportFailed(f"The image is larger than {self._max_size} bytes")
                if len(header) < 32:
                    header += chunk[: 32 - len(header)]
                digest.update(chunk)
                await asyncio.to_thread(stream.write, chunk)
            await asyncio.to_thread(stream.flush)
            await asyncio.to_thread(os.fsync, stream.fileno())
        except BaseException:
            stream.close()
            temporary.unlink(missing_ok=True)
            raise
        stream.close()
        if size == 0:
            temporary.unlink(missing_ok=True)
            raise ImportFailed("The image is empty")
        disk_format, virtual = _virtual_size(header, size)
        final = self.directory / f"{image_id}.{disk_format}"
        os.chmod(temporary, 0o400)
        os.replace(temporary, final)
        return ImageFile(
            final, disk_format, size, max(1, math.ceil(virtual / _GIB)), digest.hexdigest()
        )

    async def read(self, path: str, chunk_size: int = 1024 * 1024) -> AsyncIterator[bytes]:
        """An image file's bytes, ``chunk_size`` at a time (a host's copy is sent from it)."""
        source = Path(path)
        if source.parent != self.directory:  # never a path outside the image folder
            raise ImportFailed("The image file is not in the image folder")
        stream = await asyncio.to_thread(source.open, "rb")
        try:
            while block := await asyncio.to_thread(stream.read, chunk_size):
                yield block
        finally:
            stream.close()

    async def store_local(
        self, image_id: str, source: Path, chunk_size: int = 1024 * 1024
    ) -> ImageFile:
        async def chunks() -> AsyncIterator[bytes]:
            with source.open("rb") as stream:
                while block := await asyncio.to_thread(stream.read, chunk_size):
                    yield block

        return await self.store(image_id, chunks())

    def remove(self, path: str) -> None:
        target = Path(path)
        if target.parent == self.directory:  # never a path outside the image folder
            target.unlink(missing_ok=True)
