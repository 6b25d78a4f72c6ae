"""Encrypted qcow2 volumes written around a cryptsetup LUKS header: the layout read back field by
field, then real files held to ``qemu-img check``/``info`` and read and written through QEMU's
own LUKS code (``qemu-io``), against the key and against another."""

from __future__ import annotations

import secrets
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from andromede.hypervisor.errors import HypervisorError
from andromede.hypervisor.images import QemuImg, luks_passphrase
from andromede.hypervisor.qcow2 import CLUSTER_SIZE, encrypted_qcow2_layout

GIB = 1024**3
FAKE_LUKS = b"LUKS\xba\xbe" + bytes(2068480 - 6)  # the length of a 512-bit-key LUKS1 header


def assemble(size: int, backing: str | None = None, header: bytes = FAKE_LUKS) -> bytes:
    layout = encrypted_qcow2_layout(size, header, backing=backing, backing_format="raw")
    image = bytearray(layout.length)
    for offset, piece in layout.pieces:
        assert offset + len(piece) <= layout.length
        image[offset : offset + len(piece)] = piece
    return bytes(image)


def test_the_header_names_the_size_the_backing_file_and_the_luks_header() -> None:
    image = assemble(GIB, backing="/images/base,1.raw")
    fields = struct.unpack(">4sIQIIQIIQQIIQ", image[:72])
    magic, version, backing_offset, backing_size, cluster_bits, size, crypt = fields[:7]
    l1_size, l1_offset, refcount_table, refcount_clusters, snapshots = fields[7:12]
    assert (magic, version, cluster_bits, size, crypt) == (b"QFI\xfb", 3, 16, GIB, 2)
    assert image[backing_offset : backing_offset + backing_size] == b"/images/base,1.raw"
    assert (l1_size, l1_offset, refcount_clusters, snapshots) == (2, 3 * CLUSTER_SIZE, 1, 0)
    assert image[l1_offset : l1_offset + 16] == bytes(16)  # nothing allocated: all backing
    # no feature bits, 16-bit refcounts, a 112-byte header
    assert struct.unpack(">QQQII", image[72:104]) == (0, 0, 0, 4, 112)

    extensions, offset = {}, 112
    while True:
        kind, length = struct.unpack(">II", image[offset : offset + 8])
        if kind == 0:
            break
        extensions[kind] = image[offset + 8 : offset + 8 + length]
        offset += 8 + length + (-length % 8)
    assert extensions[0xE2792ACA] == b"raw"
    luks_offset, luks_length = struct.unpack(">QQ", extensions[0x0537BE77])
    assert luks_offset % CLUSTER_SIZE == 0 and luks_length == len(FAKE_LUKS)
    assert image[luks_offset : luks_offset + luks_length] == FAKE_LUKS

    # Every cluster of the file counts once, in the one refcount block the table points at.
    (block,) = struct.unpack(">Q", image[refcount_table : refcount_table + 8])
    clusters = len(image) // CLUSTER_SIZE
    counts = struct.unpack(f">{clusters + 1}H", image[block : block + 2 * (clusters + 1)])
    assert counts == (1,) * clusters + (0,)
    assert len(image) == luks_offset + -(-luks_length // CLUSTER_SIZE) * CLUSTER_SIZE


def test_a_large_volume_gets_an_l1_table_of_several_clusters() -> None:
    layout = encrypted_qcow2_layout(64 * 1024 * GIB, FAKE_LUKS)
    header = layout.pieces[0][1]
    (l1_size,) = struct.unpack(">I", header[36:40])
    assert l1_size == 64 * 1024 * GIB // (512 * 1024 * 1024)  # one entry per 512 MiB
    ((luks_offset, _),) = [(o, p) for o, p in layout.pieces if p == FAKE_LUKS]
    assert luks_offset == (3 + l1_size * 8 // CLUSTER_SIZE) * CLUSTER_SIZE
    assert header[8:20] == bytes(12)  # no backing file


@pytest.mark.parametrize(
    ("size", "header", "backing"),
    [
        (GIB + 1, FAKE_LUKS, None),  # not whole sectors
        (0, FAKE_LUKS, None),
        (GIB, b"\x00" * 4096, None),  # not a LUKS header
        (GIB, FAKE_LUKS, "/" + "b" * 1100),  # QEMU refuses such a backing name
    ],
)
def test_what_qemu_would_refuse_is_refused_here(
    size: int, header: bytes, backing: str | None
) -> None:
    with pytest.raises(ValueError):
        encrypted_qcow2_layout(size, header, backing=backing)


# -- real files ------------------------------------------------------------------------------


@pytest.fixture
def tools() -> QemuImg:
    cryptsetup = shutil.which("cryptsetup") or shutil.which("cryptsetup", path="/usr/sbin:/sbin")
    missing = [t for t in ("qemu-img", "qemu-io") if shutil.which(t) is None]
    if cryptsetup is None or missing:
        pytest.skip("qemu-utils or cryptsetup is not installed (scripts/install-system-deps.sh)")
    return QemuImg("qemu-img", iter_time_ms=10, timeout=60, cryptsetup_binary=cryptsetup)


def qemu_img(command: str, image: Path, key: bytes, scratch: Path) -> str:
    return _run(["qemu-img", command], image, key, scratch)


def qemu_io(image: Path, key: bytes, scratch: Path, command: str) -> str:
    return _run(["qemu-io", "-c", command], image, key, scratch)


def _run(argv: list[str], image: Path, key: bytes, scratch: Path) -> str:
    secret = scratch / "passphrase"
    secret.write_bytes(luks_passphrase(key))
    opts = f"driver=qcow2,file.filename={image},encrypt.key-secret=s"
    return subprocess.run(
        [*argv, "--object", f"secret,id=s,file={secret}", "--image-opts", opts],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip


async def test_an_overlay_opens_with_its_key_in_qemu_and_keeps_data_encrypted(
    tools: QemuImg, tmp_path: Path
) -> None:
    base = tmp_path / "base.raw"
    base.write_bytes(b"\xab" * 65536 + bytes(1024 * 1024 - 65536))
    volume, key = tmp_path / "volume.qcow2", secrets.token_bytes(32)
    await tools.create_encrypted(volume, GIB, key, backing=base, backing_format="raw")

    assert "No errors were found" in qemu_img("check", volume, key, tmp_path)
    info = await tools.info(volume, key)
    assert info["virtual-size"] == GIB and info["encrypted"] is True
    assert info["backing-filename"] == str(base) and info["backing-filename-format"] == "raw"
    encrypt = info["format-specific"]["data"]["encrypt"]  # type: ignore[index]
    assert (encrypt["format"], encrypt["cipher-alg"], encrypt["cipher-mode"]) == (
        "luks", "aes-256", "xts",
    )  # fmt: skip
    assert [s["iters"] for s in encrypt["slots"] if s["active"]] == [1000]

    # Reads fall through to the backing file; writes land encrypted in the overlay.
    qemu_io(volume, key, tmp_path, "read -P 0xab 0 64k")
    qemu_io(volume, key, tmp_path, "write -P 0x5a 256M 1M")
    qemu_io(volume, key, tmp_path, "read -P 0x5a 256M 1M")
    assert b"\x5a" * 512 not in volume.read_bytes()
    assert "No errors were found" in qemu_img("check", volume, key, tmp_path)
    with pytest.raises(subprocess.CalledProcessError) as refused:
        qemu_io(volume, secrets.token_bytes(32), tmp_path, "read 0 512")
    assert "Invalid password" in refused.value.stderr

    # Each volume has its own master key: the headers share nothing but their layout.
    other = tmp_path / "other.qcow2"
    await tools.create_encrypted(other, GIB, key, backing=base, backing_format="raw")
    assert (
        volume.read_bytes()[4 * CLUSTER_SIZE :][:4096]
        != other.read_bytes()[4 * CLUSTER_SIZE :][:4096]
    )


async def test_a_copy_is_a_new_encrypted_volume_under_its_own_key(
    tools: QemuImg, tmp_path: Path
) -> None:
    source, source_key = tmp_path / "source.qcow2", secrets.token_bytes(32)
    await tools.create_encrypted(source, GIB, source_key)
    qemu_io(source, source_key, tmp_path, "write -P 0x33 512M 64k")
    copy, copy_key = tmp_path / "copy.qcow2", secrets.token_bytes(32)
    await tools.copy_encrypted(source, source_key, copy, copy_key)

    assert (await tools.info(copy, copy_key))["virtual-size"] == GIB
    qemu_io(copy, copy_key, tmp_path, "read -P 0x33 512M 64k")
    qemu_io(copy, copy_key, tmp_path, "read -P 0 0 64k")
    assert "No errors were found" in qemu_img("check", copy, copy_key, tmp_path)
    with pytest.raises(subprocess.CalledProcessError):
        qemu_io(copy, source_key, tmp_path, "read 0 512")


async def test_a_volume_qemu_could_not_open_is_refused_before_anything_is_written(
    tools: QemuImg, tmp_path: Path
) -> None:
    target = tmp_path / "volume.qcow2"
    with pytest.raises(HypervisorError, match="backing file name"):
        await tools.create_encrypted(
            target, GIB, secrets.token_bytes(32), backing=Path("/" + "b" * 1100)
        )
    assert not target.exists()
