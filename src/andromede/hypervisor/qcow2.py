"""The layout of a new, empty qcow2 v3 image whose clusters are LUKS-encrypted, around a LUKS1
header made elsewhere (cryptsetup, see :mod:`andromede.hypervisor.images`).

Why not ``qemu-img create``: to fill in a LUKS header QEMU first measures how fast PBKDF2 runs,
in rounds it repeats until one takes more than 500 ms of CPU, twice (master key and key slot),
whatever ``iter-time`` asks. That is about 2 s of CPU per volume (2.3 s here), which was most
of what RunInstances added to a guest's boot under TCG. cryptsetup makes the same LUKS1 header
with a fixed iteration count in milliseconds; what is left is the qcow2 container around it,
which for an empty image is five fixed structures (``docs/interop/qcow2.txt`` in QEMU's sources):

    cluster 0            header (version 3), extensions (backing format, the LUKS header's
                         place), the backing file's name
    cluster 1            refcount table: one entry, the block below
    cluster 2            refcount block: 16-bit counts, 1 for each cluster of this list
    clusters 3..         L1 table, all zero (no data cluster yet: reads go to the backing file)
    next clusters        the LUKS1 header and its key material, as long as the header says

Everything else (L2 tables, data clusters, refcounts of new clusters) QEMU allocates as the
guest writes, exactly as in an image qemu-img made. The file is what ``qemu-img create -f qcow2
-o encrypt.format=luks`` writes, but for the header's PBKDF2 counts; the unit tests hold it to
``qemu-img check`` and ``qemu-img info``, the contract tests boot guests through it.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

__all__ = ["CLUSTER_SIZE", "EncryptedQcow2Layout", "encrypted_qcow2_layout"]

CLUSTER_BITS = 16  # 64 KiB, qemu-img's default
CLUSTER_SIZE = 1 << CLUSTER_BITS
_MAGIC = b"QFI\xfb"
_VERSION = 3
_CRYPT_LUKS = 2
_REFCOUNT_ORDER = 4  # 16-bit refcounts, qemu-img's default
_HEADER_LENGTH = 112  # version 3 with the compression-type byte, as QEMU 5.1 and later write it
_HEADER = struct.Struct(">4sIQIIQIIQQIIQQQQIIB7x")
_EXTENSION = struct.Struct(">II")
_EXT_END = 0
_EXT_BACKING_FORMAT = 0xE2792ACA
_EXT_CRYPTO_HEADER = 0x0537BE77
_L2_ENTRIES = CLUSTER_SIZE // 8
_REFCOUNTS_PER_BLOCK = CLUSTER_SIZE * 8 // (1 << _REFCOUNT_ORDER)
_BACKING_NAME_MAX = 1023  # QEMU refuses longer backing file names
_SECTOR = 512
_LUKS_MAGIC = b"LUKS\xba\xbe"


@dataclass(frozen=True, slots=True)
class EncryptedQcow2Layout:
    """What to write where: ``(offset, bytes)`` pieces of a file of ``length`` bytes whose other
    bytes are zero (a sparse file)."""

    pieces: tuple[tuple[int, bytes], ...]
    length: int


def encrypted_qcow2_layout(
    size_bytes: int,
    luks_header: bytes,
    *,
    backing: str | None = None,
    backing_format: str = "qcow2",
) -> EncryptedQcow2Layout:
    """An empty qcow2 of ``size_bytes`` guest bytes, optionally an overlay over ``backing``
    (a path QEMU opens as ``backing_format``), encrypted under ``luks_header``: a LUKS1 header
    with its key material, as long as its payload offset (the bytes before a raw LUKS device's
    data; in qcow2 the payload is the data clusters)."""
    if size_bytes <= 0 or size_bytes % _SECTOR:
        raise ValueError("a qcow2 size is a positive whole number of 512-byte sectors")
    if not luks_header.startswith(_LUKS_MAGIC):
        raise ValueError("not a LUKS1 header")
    l1_entries = math.ceil(size_bytes / (_L2_ENTRIES * CLUSTER_SIZE))
    l1_clusters = math.ceil(l1_entries * 8 / CLUSTER_SIZE)
    l1_offset = 3 * CLUSTER_SIZE
    luks_offset = l1_offset + l1_clusters * CLUSTER_SIZE
    clusters = luks_offset // CLUSTER_SIZE + math.ceil(len(luks_header) / CLUSTER_SIZE)
    if clusters > _REFCOUNTS_PER_BLOCK:
        raise ValueError("volume too large for a single refcount block")

    extensions = b""
    if backing is not None:
        extensions += _extension(_EXT_BACKING_FORMAT, backing_format.encode())
    extensions += _extension(_EXT_CRYPTO_HEADER, struct.pack(">QQ", luks_offset, len(luks_header)))
    extensions += _EXTENSION.pack(_EXT_END, 0)
    backing_name = backing.encode() if backing is not None else b""
    if len(backing_name) > _BACKING_NAME_MAX:
        raise ValueError("backing file name too long for qcow2")
    backing_offset = _HEADER_LENGTH + len(extensions) if backing is not None else 0
    header = _HEADER.pack(
        _MAGIC, _VERSION, backing_offset, len(backing_name), CLUSTER_BITS, size_bytes,
        _CRYPT_LUKS, l1_entries, l1_offset, CLUSTER_SIZE, 1, 0, 0,
        0, 0, 0, _REFCOUNT_ORDER, _HEADER_LENGTH, 0,
    )  # fmt: skip
    first_cluster = header + extensions + backing_name
    if len(first_cluster) > CLUSTER_SIZE:  # pragma: no cover - bounded by the checks above
        raise ValueError("qcow2 header does not fit its cluster")
    refcount_table = struct.pack(">Q", 2 * CLUSTER_SIZE)
    refcount_block = struct.pack(f">{clusters}H", *([1] * clusters))
    return EncryptedQcow2Layout(
        pieces=(
            (0, first_cluster),
            (CLUSTER_SIZE, refcount_table),
            (2 * CLUSTER_SIZE, refcount_block),
            (luks_offset, luks_header),
        ),
        length=clusters * CLUSTER_SIZE,
    )


def _extension(kind: int, data: bytes) -> bytes:
    padding = -len(data) % 8
    return _EXTENSION.pack(kind, len(data)) + data + bytes(padding)
