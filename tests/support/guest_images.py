"""A small bootable guest for the compute tests, built from Debian packages once per machine.

The image is what an EC2 image is, a disk: a raw FAT file system with SYSLINUX in its boot sector,
Debian's cloud kernel and a busybox initramfs (docs/decisions/0014-guest-boot.md). The driver boots
it like any image, through the firmware, from an encrypted overlay. The initramfs ``/init``:

- loads the few modules it needs (virtio disks and network, ISO 9660, the ACPI power button);
- prints ``andromede-disk-present <name> serial=<serial> sectors=<512-byte sectors>`` per disk;
- finds the NoCloud seed (a disk with ``meta-data`` on ISO 9660), prints
  ``andromede-guest-init instance-id=<id>`` on the serial console;
- runs the user data when it is a shell script (``#!``), its output on the console, then prints
  ``andromede-user-data-exit=<status>``; the script gets ``ROOT_DISK`` (the boot disk,
  ``/dev/vda``) to read and write raw sectors that outlive a reboot;
- reports hot-plugged disks as ``andromede-disk-added <name> serial=<serial>`` and
  ``andromede-disk-removed <name>`` (the driver gives each disk its volume id as serial);
- powers off on an ACPI power-button press (busybox acpid); a user data that kills acpid makes a
  guest without ACPI handler, for the stop-timeout path.

Nothing is installed into the system: ``apt-get download`` + ``dpkg-deb -x`` into a scratch
folder; SYSLINUX and mtools (``scripts/install-system-deps.sh``) write the boot sector. The result
is cached under ``~/.cache/andromede-test-images/<key>/`` (``ANDROMEDE_TEST_IMAGE_CACHE``
overrides the root) keyed by the package versions and this builder's version, so later runs and
parallel test workers reuse it (a file lock serialises the one build).
"""

from __future__ import annotations

import fcntl
import functools
import gzip
import hashlib
import io
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "INIT_MARKER",
    "USER_DATA_EXIT_MARKER",
    "GuestImage",
    "GuestImageUnavailable",
    "build_guest_image",
    "missing_build_tools",
]

# Bump when the image content changes for the same packages.
BUILDER_VERSION = "5"
KERNEL_METAPACKAGE = "linux-image-cloud-amd64"
BUSYBOX_PACKAGE = "busybox-static"
INIT_MARKER = "andromede-guest-init"
USER_DATA_EXIT_MARKER = "andromede-user-data-exit="
# The modules /init needs; their dependencies are added from each module's .modinfo.
MODULES = ("virtio_pci", "virtio_blk", "virtio_net", "isofs", "button", "evdev")
# Big enough for the kernel (~8 MiB) and the initramfs (~2 MiB); the overlay grows the disk.
DISK_MIB = 24
BUILD_TOOLS = ("apt-get", "apt-cache", "dpkg-deb", "syslinux", "mformat", "mcopy")

# What a boot of this guest skips under TCG, where each costs a fraction of a second of CPU
# (docs/decisions/0014-guest-boot.md): the crypto API's self-tests, the speculation mitigations'
# code patching (no secret lives in a test guest), and the checks of a timer and a TSC that
# QEMU provides.
FAST_BOOT_ARGS = "cryptomgr.notests mitigations=off no_timer_check tsc=reliable"
SYSLINUX_CONFIG = f"""\
DEFAULT guest
PROMPT 0
TIMEOUT 0
LABEL guest
  KERNEL vmlinuz
  INITRD initrd.gz
  APPEND console=ttyS0 loglevel=3 panic=-1 {FAST_BOOT_ARGS}
"""

INIT_SCRIPT = r"""#!/bin/busybox sh
/bin/busybox mkdir -p /usr/bin /usr/sbin /sbin /proc /sys /dev /run /seed /var/run /var/log
/bin/busybox mkdir -p /etc/acpi/PWRF
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for module in $(cat /lib/modules/load-order); do insmod "/lib/modules/$module" 2>/dev/null; done
# The power button press runs ./PWRF/00000080 under acpid's config folder.
printf '#!/bin/sh\necho andromede-guest-powerdown\nsync\npoweroff -f\n' > /etc/acpi/PWRF/00000080
chmod +x /etc/acpi/PWRF/00000080
acpid -c /etc/acpi -l /run/acpid.log -p /run/acpid.pid
# virtio disks appear asynchronously after their driver loads.
tries=0
while [ ! -e /sys/block/vda ] && [ "$tries" -lt 50 ]; do sleep 0.1; tries=$((tries + 1)); done
seed=""
for disk in /sys/block/vd*; do
  name="${disk##*/}"
  echo "andromede-disk-present $name serial=$(cat "$disk/serial" 2>/dev/null)" \
    "sectors=$(cat "$disk/size")"
  if [ -z "$seed" ] && mount -t iso9660 -o ro "/dev/$name" /seed 2>/dev/null; then
    if [ -f /seed/meta-data ]; then seed="$name"; else umount /seed; fi
  fi
done
instance_id=""
if [ -n "$seed" ]; then
  # meta-data is YAML, or JSON (which is YAML): instance-id: i-… or "instance-id": "i-…"
  instance_id=$(tr -d '"{},'"'" < /seed/meta-data |
    sed -n 's/^[[:space:]]*instance-id:[[:space:]]*\([^[:space:]]*\).*/\1/p' | head -n 1)
fi
echo "andromede-guest-init instance-id=$instance_id seed=$seed"
export ROOT_DISK=/dev/vda
if [ -n "$seed" ] && [ "$(head -c 2 /seed/user-data 2>/dev/null)" = "#!" ]; then
  cp /seed/user-data /run/user-data
  chmod +x /run/user-data
  /run/user-data > /dev/console 2>&1
  echo "andromede-user-data-exit=$?"
fi
# Hot-plug reports: the driver gives each virtio disk its volume id as serial. The loop starts
# no process (the glob, read and test are the shell's own; the fifo nobody writes is a sleep):
# a fork costs under TCG, and this loop runs as long as the guest.
mkfifo /run/tick
exec 3<>/run/tick
disks() { list=" "; for d in /sys/block/vd*; do [ -e "$d" ] && list="$list${d##*/} "; done; }
disks
known="$list"
while true; do
  disks
  if [ "$list" != "$known" ]; then
    for name in $list; do
      case "$known" in *" $name "*) ;; *)
        serial=""
        read -r serial < "/sys/block/$name/serial" 2>/dev/null
        echo "andromede-disk-added $name serial=$serial";;
      esac
    done
    for name in $known; do
      case "$list" in *" $name "*) ;; *) echo "andromede-disk-removed $name";; esac
    done
    known="$list"
  fi
  read -t 0.3 _ <&3
done
"""


class GuestImageUnavailable(Exception):
    """The machine lacks what the build needs (tools or package index)."""


@dataclass(frozen=True)
class GuestImage:
    """A bootable raw disk image and what it was built from."""

    disk: Path
    kernel_package: str
    kernel_release: str


def missing_build_tools() -> list[str]:
    return [tool for tool in BUILD_TOOLS if shutil.which(tool) is None]


def build_guest_image(cache_root: Path | None = None) -> GuestImage:
    """The cached image for the current package versions, built first if needed."""
    missing = missing_build_tools()
    if missing:
        raise GuestImageUnavailable(f"missing tools: {', '.join(missing)}")
    kernel_package, kernel_version, busybox_version = _package_versions()
    key = hashlib.sha256(
        f"{BUILDER_VERSION}\0{kernel_package}={kernel_version}\0busybox={busybox_version}".encode()
    ).hexdigest()[:16]
    root = cache_root or Path(
        os.environ.get("ANDROMEDE_TEST_IMAGE_CACHE", Path.home() / ".cache/andromede-test-images")
    )
    target = root / key
    target.mkdir(parents=True, exist_ok=True)
    disk = target / "guest.raw"
    release_file = target / "kernel-release"
    with open(target / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not disk.exists():
            with tempfile.TemporaryDirectory(prefix="andromede-image-") as scratch:
                release = _build(Path(scratch), kernel_package, disk)
            release_file.write_text(release)
    return GuestImage(disk, kernel_package, release_file.read_text())


def _run(argv: list[str], cwd: Path | None = None) -> str:
    try:
        done = subprocess.run(argv, cwd=cwd, check=True, capture_output=True, text=True)
    except subprocess.CalledProcessError as exc:
        raise GuestImageUnavailable(f"{argv[0]} failed: {exc.stderr.strip()[-500:]}") from exc
    return done.stdout


@functools.cache
def _package_versions() -> tuple[str, str, str]:
    """The versioned kernel package behind the metapackage (linux-image-6.1.0-57-cloud-amd64),
    the metapackage's version (which names the kernel's) and busybox's: the image's cache key.
    One ``apt-cache`` run per process, remembered: each run rebuilds apt's cache in memory
    (about a second of CPU), and every test module that boots a guest asks."""
    fields = _package_fields(KERNEL_METAPACKAGE, BUSYBOX_PACKAGE)
    depends = fields[KERNEL_METAPACKAGE].get("Depends", "")
    name = depends.split(",")[0].split()[0] if depends else ""
    if not name.startswith("linux-image-"):
        raise GuestImageUnavailable(f"cannot resolve {KERNEL_METAPACKAGE}: {depends!r}")
    return name, fields[KERNEL_METAPACKAGE]["Version"], fields[BUSYBOX_PACKAGE]["Version"]


def _package_fields(*packages: str) -> dict[str, dict[str, str]]:
    """Each package's fields from the index, one ``apt-cache show`` for all of them."""
    output = _run(["apt-cache", "show", "--no-all-versions", *packages])
    found: dict[str, dict[str, str]] = {}
    for stanza in output.split("\n\n"):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            name, sep, value = line.partition(": ")
            if sep and not line.startswith(" "):
                fields.setdefault(name, value.strip())
        if "Package" in fields and "Version" in fields:
            found.setdefault(fields["Package"], fields)
    for package in packages:
        if package not in found:
            raise GuestImageUnavailable(f"{package} is not in the package index (apt-get update?)")
    return found


def _build(scratch: Path, kernel_package: str, disk: Path) -> str:
    _run(["apt-get", "download", kernel_package, BUSYBOX_PACKAGE], cwd=scratch)
    tree = scratch / "tree"
    for deb in scratch.glob("*.deb"):
        _run(["dpkg-deb", "-x", str(deb), str(tree)])
    kernels = sorted((tree / "boot").glob("vmlinuz-*"))
    if not kernels:
        raise GuestImageUnavailable(f"{kernel_package} has no kernel")
    release = kernels[0].name.removeprefix("vmlinuz-")
    initramfs = _initramfs(tree, release)
    partial = disk.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    with open(partial, "wb") as file:
        file.truncate(DISK_MIB * 1024 * 1024)
    _run(["mformat", "-i", str(partial), "-v", "ANDROMEDE", "::"])
    _run(["syslinux", "--install", str(partial)])
    (scratch / "syslinux.cfg").write_text(SYSLINUX_CONFIG)
    (scratch / "initrd.gz").write_bytes(initramfs)
    shutil.copy(kernels[0], scratch / "vmlinuz")
    for name in ("syslinux.cfg", "vmlinuz", "initrd.gz"):
        _run(["mcopy", "-i", str(partial), str(scratch / name), "::"])
    partial.rename(disk)
    return release


def _initramfs(tree: Path, release: str) -> bytes:
    modules_root = tree / "lib/modules" / release
    by_name = {
        path.name.removesuffix(".ko").replace("-", "_"): path for path in modules_root.rglob("*.ko")
    }
    order = _load_order(MODULES, by_name)
    archive = _Cpio()
    for directory in ("bin", "lib", "lib/modules", "etc", "dev"):
        archive.directory(directory)
    archive.file("bin/busybox", (tree / "bin/busybox").read_bytes(), 0o755)
    archive.file("init", INIT_SCRIPT.encode(), 0o755)
    for name in order:
        archive.file(f"lib/modules/{name}.ko", by_name[name].read_bytes(), 0o644)
    archive.file("lib/modules/load-order", "".join(f"{n}.ko\n" for n in order).encode(), 0o644)
    return gzip.compress(archive.finish(), compresslevel=6, mtime=0)


def _module_depends(path: Path) -> list[str]:
    """The ``depends=`` of a module's .modinfo section (NUL-separated key=value strings)."""
    for entry in path.read_bytes().split(b"\0"):
        if entry.startswith(b"depends="):
            value = entry.removeprefix(b"depends=").decode()
            return [name.replace("-", "_") for name in value.split(",") if name]
    return []


def _load_order(wanted: Iterable[str], by_name: dict[str, Path]) -> list[str]:
    order: list[str] = []

    def visit(name: str) -> None:
        if name in order:
            return
        if name not in by_name:
            raise GuestImageUnavailable(f"kernel module {name} not found")
        for dependency in _module_depends(by_name[name]):
            visit(dependency)
        order.append(name)

    for name in wanted:
        visit(name)
    return order


class _Cpio:
    """A ``newc`` cpio archive, the initramfs format, written in memory."""

    def __init__(self) -> None:
        self._out = io.BytesIO()
        self._inode = 1

    def directory(self, name: str) -> None:
        self._entry(name, 0o040755, b"")

    def file(self, name: str, data: bytes, mode: int) -> None:
        self._entry(name, 0o100000 | mode, data)

    def finish(self) -> bytes:
        self._entry("TRAILER!!!", 0, b"", inode=0)
        return self._out.getvalue()

    def _entry(self, name: str, mode: int, data: bytes, inode: int | None = None) -> None:
        encoded = name.encode() + b"\0"
        if inode is None:
            inode, self._inode = self._inode, self._inode + 1
        fields = (inode, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(encoded), 0)
        header = b"070701" + b"".join(b"%08X" % value for value in fields)
        self._out.write(header + encoded)
        self._pad()
        self._out.write(data)
        self._pad()

    def _pad(self) -> None:
        self._out.write(b"\0" * (-self._out.tell() % 4))
