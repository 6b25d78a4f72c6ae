"""The host's image copies: verified before they exist under their name, read-only, and refused
when the bytes are not what the control plane recorded (checksum, format, size)."""

from __future__ import annotations

import asyncio
import hashlib
import stat
import struct
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from andromede.hypervisor.errors import HypervisorError, ImageRefused
from andromede.hypervisor.image_cache import HostImages

RAW = b"a raw disk\n" * 10000


def sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def qcow2_header(backing_offset: int = 0) -> bytes:
    # magic, version 3, backing_file_offset, backing_file_size, cluster_bits, virtual size
    return b"QFI\xfb" + struct.pack(">IQIIQ", 3, backing_offset, 0, 16, 1 << 30) + bytes(64)


async def chunks(content: bytes, size: int = 4096) -> AsyncIterator[bytes]:
    for start in range(0, len(content), size):
        yield content[start : start + size]
        await asyncio.sleep(0)


@pytest.fixture
def images(tmp_path: Path) -> HostImages:
    return HostImages(tmp_path / "images", max_size=1024 * 1024)


def leftovers(images: HostImages) -> list[str]:
    return sorted(p.name for p in images.directory.iterdir())


async def test_a_copy_is_kept_read_only_under_its_id_and_checksum(images: HostImages) -> None:
    path = await images.put("ami-1", sha(RAW), "raw", chunks(RAW))
    assert path == images.directory / f"ami-1.{sha(RAW)}"
    assert path.read_bytes() == RAW
    assert stat.S_IMODE(path.stat().st_mode) == 0o400
    assert stat.S_IMODE(images.directory.stat().st_mode) == 0o700
    assert images.has("ami-1", sha(RAW)) and images.has("ami-1", sha(RAW).upper())
    assert not images.has("ami-1", sha(b"other"))
    assert images.forget("ami-1") == [path]
    assert leftovers(images) == []


@pytest.mark.parametrize(
    ("content", "disk_format", "reason"),
    [
        (RAW, "raw", "SHA-256"),  # checked against another checksum below
        (qcow2_header(), "raw", "is a qcow2"),
        (RAW, "qcow2", "not one"),
        (qcow2_header(backing_offset=104) + b"/etc/shadow", "qcow2", "backing file"),
        (b"x" * (1024 * 1024 + 1), "raw", "larger than"),
        (RAW, "vmdk", "disk format"),
    ],
)
async def test_what_is_not_the_recorded_image_leaves_nothing(
    images: HostImages, content: bytes, disk_format: str, reason: str
) -> None:
    expected = sha(b"what was imported") if reason == "SHA-256" else sha(content)
    with pytest.raises(ImageRefused, match=reason):
        await images.put("ami-2", expected, disk_format, chunks(content))
    assert not images.has("ami-2", expected)
    assert leftovers(images) == []


async def test_a_qcow2_without_backing_file_is_kept(images: HostImages) -> None:
    content = qcow2_header() + bytes(4096)
    await images.put("ami-3", sha(content), "qcow2", chunks(content))
    assert images.has("ami-3", sha(content))


async def test_a_checksum_must_be_a_sha256(images: HostImages) -> None:
    with pytest.raises(HypervisorError, match="64 hex digits"):
        images.path("ami-1", "../../etc/passwd")
    with pytest.raises(HypervisorError, match="invalid resource id"):
        images.path("../ami", sha(RAW))


async def test_two_puts_at_once_write_once(images: HostImages) -> None:
    read: list[str] = []

    async def counted(name: str) -> AsyncIterator[bytes]:
        read.append(name)
        async for chunk in chunks(RAW):
            yield chunk

    first, second = await asyncio.gather(
        images.put("ami-4", sha(RAW), "raw", counted("first")),
        images.put("ami-4", sha(RAW), "raw", counted("second")),
    )
    assert first == second and read == ["first"]
    assert leftovers(images) == [f"ami-4.{sha(RAW)}"]


async def test_a_stream_cut_short_leaves_nothing(images: HostImages) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield RAW[:4096]
        raise ConnectionError("the gateway went away")

    with pytest.raises(ConnectionError):
        await images.put("ami-5", sha(RAW), "raw", broken())
    assert leftovers(images) == []
