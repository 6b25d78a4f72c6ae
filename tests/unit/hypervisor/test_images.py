"""qemu-img gets keys through inherited pipes, never in its arguments (a fake qemu-img records
what it was given)."""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
from pathlib import Path

import pytest

from andromede.hypervisor.errors import HypervisorError
from andromede.hypervisor.images import QemuImg, luks_passphrase

# Records argv, then the content of every secret file it is pointed at.
FAKE_QEMU_IMG = r"""#!/usr/bin/env python3
import json, re, sys
secrets = {}
for arg in sys.argv:
    match = re.match(r"secret,id=([^,]+),file=([^,]+)", arg)
    if match:
        secrets[match[1]] = open(match[2], "rb").read().decode()
with open(sys.argv[0] + ".log", "a") as log:
    log.write(json.dumps({"argv": sys.argv[1:], "secrets": secrets}) + "\n")
if "FAIL" in open(sys.argv[0] + ".mode").read():
    print("qemu-img: Unable to get accurate CPU usage", file=sys.stderr)
    sys.exit(1)
"""


@pytest.fixture
def fake(tmp_path: Path) -> Path:
    binary = tmp_path / "qemu-img"
    binary.write_text(FAKE_QEMU_IMG)
    binary.chmod(0o755)
    (tmp_path / "qemu-img.mode").write_text("ok")
    return binary


def calls(fake: Path) -> list[dict[str, object]]:
    lines = Path(f"{fake}.log").read_text().splitlines()
    return [json.loads(line) for line in lines]


async def test_create_passes_the_key_through_a_pipe(fake: Path, tmp_path: Path) -> None:
    key = secrets.token_bytes(32)
    tool = QemuImg(str(fake), iter_time_ms=10, timeout=30)
    await tool.create_encrypted(tmp_path / "v.qcow2", 1 << 30, key, backing=tmp_path / "base.raw",
                                backing_format="raw")  # fmt: skip
    (call,) = calls(fake)
    argv = " ".join(call["argv"])  # type: ignore[arg-type]
    assert key.hex() not in argv
    assert call["secrets"] == {"target": luks_passphrase(key).decode()}
    assert "encrypt.format=luks" in argv and "-b" in call["argv"]  # type: ignore[operator]
    assert "/dev/fd/" in argv


async def test_a_copy_opens_the_source_and_the_target_with_their_own_keys(
    fake: Path, tmp_path: Path
) -> None:
    source_key, target_key = secrets.token_bytes(32), secrets.token_bytes(32)
    tool = QemuImg(str(fake), iter_time_ms=10, timeout=30)
    await tool.copy_encrypted(tmp_path / "a,b.qcow2", source_key, tmp_path / "c", target_key)
    (call,) = calls(fake)
    assert call["secrets"] == {
        "target": luks_passphrase(target_key).decode(),
        "source": luks_passphrase(source_key).decode(),
    }
    # A comma in a path is doubled inside QEMU's option syntax.
    assert any("a,,b.qcow2" in arg for arg in call["argv"])  # type: ignore[union-attr]


async def test_the_flaky_pbkdf_benchmark_is_retried_then_reported(
    fake: Path, tmp_path: Path
) -> None:
    Path(f"{fake}.mode").write_text("FAIL")
    tool = QemuImg(str(fake), iter_time_ms=10, timeout=30)
    key = secrets.token_bytes(32)
    with pytest.raises(HypervisorError, match="accurate CPU usage") as raised:
        await tool.create_encrypted(tmp_path / "v.qcow2", 1 << 30, key)
    assert key.hex() not in str(raised.value)
    assert len(calls(fake)) == 5


def test_the_passphrase_is_text_for_any_key() -> None:
    key = bytes(range(256))[:32]
    assert luks_passphrase(key).decode("ascii") == key.hex()


@pytest.mark.parametrize("formatter", ["cryptsetup", "qemu-img"])
async def test_a_seed_container_opens_with_its_key_only_and_is_rewritten_in_place(
    formatter: str, tmp_path: Path
) -> None:
    cryptsetup = shutil.which("cryptsetup") or shutil.which("cryptsetup", path="/usr/sbin:/sbin")
    if shutil.which("qemu-img") is None or (formatter == "cryptsetup" and cryptsetup is None):
        pytest.skip(f"{formatter} is not installed (scripts/install-system-deps.sh)")
    tool = QemuImg(
        "qemu-img", iter_time_ms=10, timeout=60,
        cryptsetup_binary=cryptsetup if formatter == "cryptsetup" else None,
    )  # fmt: skip
    key, target = secrets.token_bytes(32), tmp_path / "seed.luks"
    first = b"first content " * 1000
    await tool.write_luks(first, target, key)
    assert first[:14] not in target.read_bytes()
    assert (await tool.info(target, key, driver="luks"))["format"] == "luks"
    header = target.read_bytes()[:4096]
    await tool.write_luks(b"second", target, key)
    assert target.read_bytes()[:4096] == header  # same container: not formatted again
    assert decrypt(target, key, tmp_path).startswith(b"second")
    with pytest.raises(subprocess.CalledProcessError):
        decrypt(target, secrets.token_bytes(32), tmp_path)

    # Another key (a rotated one): the container is formatted anew for it.
    other = secrets.token_bytes(32)
    await tool.write_luks(b"third", target, other)
    assert decrypt(target, other, tmp_path).startswith(b"third")
    with pytest.raises(subprocess.CalledProcessError):
        decrypt(target, key, tmp_path)


def decrypt(container: Path, key: bytes, scratch: Path) -> bytes:
    secret, plain = scratch / "passphrase", scratch / "plain.raw"
    secret.write_bytes(luks_passphrase(key))
    plain.unlink(missing_ok=True)
    subprocess.run(
        ["qemu-img", "convert", "--object", f"secret,id=s,file={secret}", "--image-opts",
         f"driver=luks,file.filename={container},key-secret=s", "-O", "raw", str(plain)],
        check=True, capture_output=True,
    )  # fmt: skip
    return plain.read_bytes()
