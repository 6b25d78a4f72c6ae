"""Test images sent to a host as the compute service sends them: ``put_image`` streamed from
the file, named by an id derived from its SHA-256 (one copy per host, whatever the test)."""

from __future__ import annotations

import asyncio
import functools
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

from andromede.compute.driver import HypervisorDriver, ImageBacking

__all__ = ["file_chunks", "file_sha256", "put_file_image"]


@functools.cache
def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while block := stream.read(1024 * 1024):
            digest.update(block)
    return digest.hexdigest()


async def file_chunks(path: Path, size: int = 1024 * 1024) -> AsyncIterator[bytes]:
    with path.open("rb") as stream:
        while block := await asyncio.to_thread(stream.read, size):
            yield block


async def put_file_image(
    driver: HypervisorDriver, path: Path, disk_format: str, image_id: str | None = None
) -> ImageBacking:
    """The image file on the host (sent unless it holds it), as a volume's backing."""
    sha256 = await asyncio.to_thread(file_sha256, path)
    image_id = image_id or f"ami-{sha256[:17]}"
    if not await driver.has_image(image_id, sha256):
        await driver.put_image(image_id, sha256, disk_format, file_chunks(path))
    return ImageBacking(image_id, disk_format, sha256)
