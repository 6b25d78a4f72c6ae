"""A real Debian bookworm guest with cloud-init, built by debootstrap once per machine.

The busybox guest of :mod:`support.guest_images` boots in seconds and proves the driver's
mechanics; this one proves that a stock distribution's cloud-init finds what an instance gets
(the NoCloud seed, its user data, the key pair) and that the disk survives a stop. It is an
image like a tenant's: a disk booted through the firmware, never by ``-kernel``.

The disk (raw, then converted to qcow2 so the import copies only what is used):

- an MBR with SYSLINUX's boot code and two partitions;
- partition 1, FAT16, bootable: SYSLINUX, ``syslinux.cfg``, the kernel and the initramfs
  (``mformat`` + ``syslinux --install`` + ``mcopy``: no loop device, no mount);
- partition 2, ext4, the root file system, written from the debootstrap tree by
  ``mke2fs -d`` at its offset in the disk file (again no mount).

The tree is ``debootstrap --variant=minbase`` of the configured apt mirror with the packages of
:data:`PACKAGES` (no recommends). Between debootstrap's two stages the builder writes what must be
there before the packages configure (a small initramfs: only the virtio modules; dpkg without
fsync), and after them what makes the guest quick and quiet under TCG: cloud-init with the
NoCloud datasource only, ed25519/ECDSA host keys made at first boot (never baked into the image)
and printed on the serial console for the user to check, no password login, the serial console,
systemd-networkd for the DHCP that cloud-init configures, and no periodic jobs; since decision
0356 also three cloud-init stages instead of four (the config stage's modules dropped or run in
the final stage), no datasource probe, no early units a test guest never uses, no root fsck,
and the busybox guest's kernel line. Debootstrap needs root (chroot, mounting ``/proc`` in the
tree).

Cache: ``~/.cache/andromede-test-images/debian-<key>/`` (``ANDROMEDE_TEST_IMAGE_CACHE``
overrides the root), the key made of the builder version, the mirror and suite, and the date of
the mirror's Release file as this machine's apt index last saw it (the package versions of that
snapshot). A file lock serialises the one build between parallel test workers; downloaded
packages are kept in ``debian-debs/`` beside it so a rebuild does not fetch them again.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from support.guest_images import FAST_BOOT_ARGS

__all__ = [
    "DEFAULT_USER",
    "DebianImage",
    "DebianImageUnavailable",
    "build_debian_image",
    "missing_requirements",
]

# Bump when the image content changes for the same mirror snapshot. (6 was session 59's kernel
# line alone, never merged: machines may hold a cache of it.)
BUILDER_VERSION = "7"
SUITE = "bookworm"
DEFAULT_USER = "debian"  # Debian's cloud.cfg default user, who gets the key pair
PACKAGES = (
    "systemd-sysv",  # init
    "udev",  # /dev/disk/by-* and blkid's view of the seed for cloud-init's ds-identify
    "kmod",  # modprobe: the seed's ISO 9660 and the disks' virtio modules are modules
    "linux-image-cloud-amd64",  # Debian's kernel for virtual machines
    "initramfs-tools",
    "iproute2",  # cloud-init's networkd renderer and its network facts need ip
    "openssh-server",
    # systemd-logind needs the bus; it is what turns the ACPI power button (StopInstances)
    # into a clean shutdown.
    "dbus",
    "cloud-init",
    # debootstrap resolves no virtual package: python3-cryptography (cloud-init's oauthlib)
    # needs python3-cffi-backend-api-*, which only this package provides.
    "python3-cffi-backend",
    "sudo",  # the default user's sudo rule, as in Debian's cloud images
)
# The modules the initramfs needs to reach the root file system (ext4 is built in).
INITRAMFS_MODULES = ("virtio_pci", "virtio_blk")
# Every byte on the emulated UART costs CPU under TCG: kernel messages only from warnings up,
# systemd's unit lines kept (they say where a slow or failed boot stands). And the busybox
# guest's savings (decisions 0014, 0333): no crypto self-tests, no speculation mitigations.
KERNEL_ARGS = f"quiet systemd.show_status=true {FAST_BOOT_ARGS}"
SECTOR = 512
BOOT_START = 2048  # sectors: partitions aligned on 1 MiB
BOOT_MIB = 64
DISK_MIB = 2048  # the ext4 root takes the rest; the instance's volume grows past it
BUILD_TOOLS = (
    "debootstrap", "chroot", "dpkg-query", "mke2fs", "mformat", "mcopy", "syslinux", "qemu-img",
)  # fmt: skip
SYSLINUX_MBR = Path("/usr/lib/syslinux/mbr/mbr.bin")
SOURCES = Path("/etc/apt/sources.list.d")
APT_LISTS = Path("/var/lib/apt/lists")

CLOUD_CONFIG = """\
# Written by the Andromède test-image builder (tests/support/debian_image.py).
# The seed is all there is: no network metadata service to wait for.
datasource_list: [NoCloud, None]
disable_root: true
# A host key per instance, made at its first boot; RSA keys take seconds under TCG.
ssh_deletekeys: true
ssh_genkeytypes: [ed25519, ecdsa]
# Passwords are refused by sshd itself (sshd_config.d/andromede.conf): cloud-init need not
# rewrite sshd_config and restart it.
ssh_pwauth: unchanged
# The image's locale: nothing to generate at first boot.
locale: C.UTF-8
# The instance's hostname in /etc/hosts, as Debian's cloud images have it: otherwise every sudo
# waits about 20 s for DNS to answer that it does not know the name.
manage_etc_hosts: true
# Seconds of TCG each, for what a test guest does not need: no GRUB to configure (SYSLINUX
# boots it), no table of the authorized keys' fingerprints (the test reads authorized_keys).
grub_dpkg:
  enabled: false
no_ssh_fingerprints: true
# The host keys on the serial console between "-----BEGIN SSH HOST KEY KEYS-----" and its END
# line, as EC2 images print them: GetConsoleOutput is how a user learns them before the first
# ssh with StrictHostKeyChecking. The keys, not their fingerprints (one ssh-keygen each under
# TCG, and a known_hosts file needs the keys).
ssh:
  emit_keys_to_console: true
ssh_fp_console_blacklist: [ssh-ed25519, ecdsa-sha2-nistp256]
ssh_key_console_blacklist: []
ssh_quiet_keygen: true
# Each stage is a Python process importing cloud-init under TCG (6 to 8 s of CPU before its first
# module, decision 0356), so the config stage's unit is masked and its one module a tenant's
# user data commonly relies on, runcmd, runs in the final stage before scripts-user (which runs
# what runcmd writes). Dropped: modules for what this guest has not (snap, apt, NTP, byobu,
# keyboard, locale generation, Landscape, Puppet, Chef, Salt, LXD, RMC, phone-home, hotplug).
cloud_init_modules: [seed_random, bootcmd, write-files, growpart, resizefs, mounts,
  set_hostname, update_hostname, update_etc_hosts, users-groups, ssh]
cloud_config_modules: []
cloud_final_modules: [write-files-deferred, runcmd, scripts-vendor, scripts-per-once,
  scripts-per-boot, scripts-per-instance, scripts-user, keys-to-console, final-message,
  power-state-change]
"""
# The datasource list above is the whole search: ds-identify (a long shell script run as a
# systemd generator at every boot) need not probe for the others.
DS_IDENTIFY = "policy: enabled\n"
# The journal in memory: nothing to flush to /var/log at each boot.
JOURNALD_CONFIG = "[Journal]\nStorage=volatile\n"
SSHD_CONFIG = """\
# Keys only, as in cloud images.
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
"""
# Timers and units that do nothing useful in a short-lived test guest but take CPU at boot.
MASKED_UNITS = (
    "apt-daily.timer",
    "apt-daily-upgrade.timer",
    "dpkg-db-backup.timer",
    "e2scrub_all.timer",
    "e2scrub_reap.service",
    "fstrim.timer",
    "getty@tty1.service",  # no display: the serial console is the terminal
    # Holds the boot two minutes when the instance has no interface (user-mode networking
    # without forwards) and delays it by the DHCP exchange when it has one; the NoCloud seed is
    # local, so nothing on the way to the user data needs the network online.
    "systemd-networkd-wait-online.service",
    # cloud-init's config stage: see CLOUD_CONFIG.
    "cloud-config.service",
    # Early units a test guest has no use for (0.5 to 5 s of TCG each in `systemd-analyze
    # blame`): binfmt_misc, huge pages, POSIX queues, debug, trace, FUSE and configfs file
    # systems, the modules loaded for them and for DRM and pstore, and utmp records.
    "systemd-binfmt.service",
    "proc-sys-fs-binfmt_misc.automount",
    "proc-sys-fs-binfmt_misc.mount",
    "dev-hugepages.mount",
    "dev-mqueue.mount",
    "sys-kernel-debug.mount",
    "sys-kernel-tracing.mount",
    "sys-fs-fuse-connections.mount",
    "sys-kernel-config.mount",
    "modprobe@drm.service",
    "modprobe@efi_pstore.service",
    "modprobe@fuse.service",
    "modprobe@loop.service",
    "modprobe@dm_mod.service",
    "modprobe@configfs.service",
    "systemd-update-utmp.service",
    "systemd-update-utmp-runlevel.service",
)
# Trimmed from the tree: documentation and translations nobody reads in a test guest.
TRIMMED = ("usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale")


class DebianImageUnavailable(Exception):
    """The machine cannot build the image (not root, tools or apt index missing)."""


@dataclass(frozen=True)
class DebianImage:
    """A bootable qcow2 disk and what it was built from."""

    disk: Path
    mirror: str
    suite: str
    kernel_release: str
    packages: dict[str, str]  # name -> version, as installed in the image
    build_seconds: float


def missing_requirements() -> list[str]:
    """Why this machine cannot build the image, empty when it can."""
    missing = [tool for tool in BUILD_TOOLS if _which(tool) is None]
    if not SYSLINUX_MBR.exists():
        missing.append(str(SYSLINUX_MBR))
    if os.geteuid() != 0:
        missing.append("root (debootstrap chroots into the tree)")
    return missing


def build_debian_image(cache_root: Path | None = None) -> DebianImage:
    """The cached image for the mirror's current snapshot, built first if needed."""
    missing = missing_requirements()
    if missing:
        raise DebianImageUnavailable(f"missing: {', '.join(missing)}")
    mirror = os.environ.get("ANDROMEDE_TEST_DEBIAN_MIRROR") or _configured_mirror()
    snapshot = _snapshot_date(mirror)
    key = hashlib.sha256(
        f"{BUILDER_VERSION}\0{mirror}\0{SUITE}\0{snapshot}\0{','.join(PACKAGES)}".encode()
    ).hexdigest()[:16]
    root = cache_root or Path(
        os.environ.get("ANDROMEDE_TEST_IMAGE_CACHE", Path.home() / ".cache/andromede-test-images")
    )
    target = root / f"debian-{key}"
    target.mkdir(parents=True, exist_ok=True)
    disk = target / "debian.qcow2"
    manifest = target / "manifest.json"
    with open(target / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        # The manifest is written last: without it the image is unfinished, whatever exists.
        if not (disk.exists() and manifest.exists()):
            debs = root / "debian-debs"
            debs.mkdir(exist_ok=True)
            started = time.monotonic()
            with tempfile.TemporaryDirectory(prefix="andromede-debian-", dir=target) as scratch:
                release, packages, phases = _build(Path(scratch), mirror, debs, disk, key)
            manifest.write_text(
                json.dumps(
                    {
                        "mirror": mirror,
                        "suite": SUITE,
                        "snapshot": snapshot,
                        "kernel_release": release,
                        "packages": packages,
                        "build_seconds": round(time.monotonic() - started, 1),
                        "phase_seconds": phases,
                    },
                    indent=1,
                )
            )
    recorded = json.loads(manifest.read_text())
    return DebianImage(
        disk=disk,
        mirror=mirror,
        suite=SUITE,
        kernel_release=recorded["kernel_release"],
        packages=recorded["packages"],
        build_seconds=recorded["build_seconds"],
    )


def _which(tool: str) -> str | None:
    # debootstrap, chroot and mke2fs live in sbin folders that a non-login PATH may lack.
    return shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/sbin")


def _run(argv: list[str], *, env: dict[str, str] | None = None, timeout: float = 900) -> str:
    tool = _which(argv[0]) or argv[0]
    try:
        done = subprocess.run(
            [tool, *argv[1:]],
            check=True,
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
        )
    except subprocess.CalledProcessError as exc:
        tail = (exc.stderr.strip() or exc.stdout.strip())[-2000:]
        raise DebianImageUnavailable(f"{argv[0]} failed: {tail}") from exc
    except subprocess.TimeoutExpired as exc:
        raise DebianImageUnavailable(f"{argv[0]} took over {timeout:g}s") from exc
    return done.stdout


def _configured_mirror() -> str:
    """The first Debian mirror of this machine's apt sources that serves :data:`SUITE`."""
    candidates: list[str] = []
    for path in sorted(SOURCES.glob("*.sources")):
        for stanza in path.read_text().split("\n\n"):
            fields = dict(
                line.split(":", 1) for line in stanza.splitlines() if re.match(r"^\w[\w-]*:", line)
            )
            suites = fields.get("Suites", "").split()
            if SUITE in suites and "deb" in fields.get("Types", "").split():
                candidates += fields.get("URIs", "").split()
    sources_list = Path("/etc/apt/sources.list")
    lists = [sources_list, *sorted(SOURCES.glob("*.list"))]
    for path in lists:
        if path.exists():
            for line in path.read_text().splitlines():
                words = line.split("#", 1)[0].split()
                if len(words) >= 3 and words[0] == "deb" and words[2] == SUITE:
                    candidates.append(next(w for w in words[1:] if not w.startswith("[")))
    for uri in candidates:
        if uri.rstrip("/").endswith("/debian"):
            return uri.rstrip("/")
    raise DebianImageUnavailable(f"no Debian {SUITE} mirror in the apt sources")


def _snapshot_date(mirror: str) -> str:
    """The Date of the mirror's Release file in this machine's apt index (apt-get update)."""
    prefix = re.sub(r"^\w+://", "", mirror).replace("/", "_")
    for name in (f"{prefix}_dists_{SUITE}_InRelease", f"{prefix}_dists_{SUITE}_Release"):
        path = APT_LISTS / name
        if path.exists():
            for line in path.read_text(errors="replace").splitlines():
                if line.startswith("Date:"):
                    return line.removeprefix("Date:").strip()
    raise DebianImageUnavailable(f"no apt index of {mirror} {SUITE} (run apt-get update)")


def _build(
    scratch: Path, mirror: str, debs: Path, disk: Path, key: str
) -> tuple[str, dict[str, str], dict[str, float]]:
    """Build the image into ``disk``; returns the kernel release, the installed versions of
    the packages that matter, and how long each phase took."""
    tree = scratch / "tree"
    phases: dict[str, float] = {}
    clock = time.monotonic()

    def phase(name: str) -> None:
        nonlocal clock
        now = time.monotonic()
        phases[name] = round(now - clock, 1)
        clock = now

    env = {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "LC_ALL": "C",
        "DEBIAN_FRONTEND": "noninteractive",
        "HOME": "/root",
    }
    _run(
        ["debootstrap", "--foreign", "--variant=minbase", f"--cache-dir={debs}",
         f"--include={','.join(PACKAGES)}", SUITE, str(tree), mirror],
        env=env,
    )  # fmt: skip
    phase("download and unpack")
    _before_configure(tree)
    try:
        _run(["chroot", str(tree), "/debootstrap/debootstrap", "--second-stage"], env=env)
    finally:
        _unmount_below(tree)
    phase("configure packages")
    signature = int(key[:8], 16) or 1
    release = _after_configure(tree, signature)
    packages = _installed_versions(tree)
    phase("image settings")
    _assemble(scratch, tree, release, signature, disk)
    phase("disk")
    return release, packages, phases


def _before_configure(tree: Path) -> None:
    """What the packages must find when they configure: the kernel's postinst builds the
    initramfs with these settings, dpkg skips its fsyncs (the tree is thrown away on failure)."""
    conf = tree / "etc/initramfs-tools"
    (conf / "conf.d").mkdir(parents=True, exist_ok=True)
    (conf / "conf.d/andromede").write_text("MODULES=list\n")
    (conf / "modules").write_text("".join(f"{name}\n" for name in INITRAMFS_MODULES))
    dpkg = tree / "etc/dpkg/dpkg.cfg.d"
    dpkg.mkdir(parents=True, exist_ok=True)
    (dpkg / "andromede-unsafe-io").write_text("force-unsafe-io\n")


def _after_configure(tree: Path, signature: int) -> str:
    kernels = sorted((tree / "boot").glob("vmlinuz-*"))
    if not kernels:
        raise DebianImageUnavailable("the tree has no kernel")
    release = kernels[-1].name.removeprefix("vmlinuz-")
    (tree / "etc/dpkg/dpkg.cfg.d/andromede-unsafe-io").unlink()
    (tree / "etc/cloud/cloud.cfg.d/99_andromede.cfg").write_text(CLOUD_CONFIG)
    (tree / "etc/ssh/sshd_config.d/andromede.conf").write_text(SSHD_CONFIG)
    (tree / "etc/cloud/ds-identify.cfg").write_text(DS_IDENTIFY)
    journald = tree / "etc/systemd/journald.conf.d"
    journald.mkdir(parents=True, exist_ok=True)
    (journald / "andromede.conf").write_text(JOURNALD_CONFIG)
    # No fsck pass: each instance's disk is a fresh copy or one shut down cleanly by ACPI.
    (tree / "etc/fstab").write_text(
        f"PARTUUID={signature:08x}-02 / ext4 rw,errors=remount-ro 0 0\n"
    )
    (tree / "etc/hostname").write_text("debian\n")
    # The emulated CPU advertises virtualisation; a nested hypervisor module is no use in here.
    (tree / "etc/modprobe.d/andromede.conf").write_text("blacklist kvm_amd\nblacklist kvm_intel\n")
    (tree / "etc/default/locale").write_text("LANG=C.UTF-8\n")
    # Each instance gets its own machine id and host keys at its first boot. An empty
    # machine-id (not "uninitialized") spares systemd its first-boot preset pass: 10 s of TCG.
    (tree / "etc/machine-id").write_text("")
    (tree / "var/lib/dbus/machine-id").unlink(missing_ok=True)
    for host_key in (tree / "etc/ssh").glob("ssh_host_*"):
        host_key.unlink()
    wants = tree / "etc/systemd/system"
    for unit in MASKED_UNITS:
        for link in wants.glob(f"*.wants/{unit}"):
            link.unlink()
        mask = wants / unit
        mask.unlink(missing_ok=True)
        mask.symlink_to("/dev/null")
    # cloud-init renders the instance's network (its fallback: DHCP on the one interface) for
    # systemd-networkd, which Debian leaves disabled. (Masked units above stay masked.)
    _run(["chroot", str(tree), "systemctl", "enable", "systemd-networkd.service"])
    for trimmed in TRIMMED:
        shutil.rmtree(tree / trimmed, ignore_errors=True)
        (tree / trimmed).mkdir()
    for cache in ("var/cache/apt", "var/lib/apt/lists"):
        for entry in (tree / cache).glob("**/*"):
            if entry.is_file():
                entry.unlink()
    for log in (tree / "var/log").glob("**/*"):
        if log.is_file():
            log.write_bytes(b"")
    shutil.rmtree(tree / "debootstrap", ignore_errors=True)
    return release


def _installed_versions(tree: Path) -> dict[str, str]:
    listing = _run(
        ["dpkg-query", f"--admindir={tree / 'var/lib/dpkg'}", "-W", "-f=${Package} ${Version}\n"]
    )
    wanted = {"linux-image-cloud-amd64", "cloud-init", "openssh-server", "systemd", "python3"}
    versions = dict(line.split(" ", 1) for line in listing.splitlines() if " " in line)
    return {name: versions[name] for name in sorted(wanted) if name in versions}


def _unmount_below(tree: Path) -> None:
    """debootstrap's second stage mounts /proc and /sys in the tree; a failed one may leave
    them, and the scratch folder cannot be removed with them."""
    mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    for mount in sorted(mounts, key=len, reverse=True):
        if mount.startswith(f"{tree}/"):
            subprocess.run(["umount", "-l", mount], check=False, capture_output=True)


def _assemble(scratch: Path, tree: Path, release: str, signature: int, disk: Path) -> None:
    boot_sectors = BOOT_MIB * 1024 * 1024 // SECTOR
    root_start = BOOT_START + boot_sectors
    disk_sectors = DISK_MIB * 1024 * 1024 // SECTOR
    root_sectors = disk_sectors - root_start

    boot = scratch / "boot.fat"
    with open(boot, "wb") as file:
        file.truncate(boot_sectors * SECTOR)
    # The hidden-sectors field is the partition's offset: SYSLINUX's boot sector reads from it.
    _run(["mformat", "-i", str(boot), "-v", "BOOT", "-H", str(BOOT_START), "::"])
    _run(["syslinux", "--install", str(boot)])
    (scratch / "syslinux.cfg").write_text(_syslinux_config(signature))
    shutil.copy(tree / f"boot/vmlinuz-{release}", scratch / "vmlinuz")
    shutil.copy(tree / f"boot/initrd.img-{release}", scratch / "initrd.img")
    for name in ("syslinux.cfg", "vmlinuz", "initrd.img"):
        _run(["mcopy", "-i", str(boot), str(scratch / name), "::"])
    # The kernel and initramfs live on the boot partition only; the root keeps the rest.
    for name in (f"vmlinuz-{release}", f"initrd.img-{release}"):
        (tree / "boot" / name).unlink()
    for link in ("vmlinuz", "vmlinuz.old", "initrd.img", "initrd.img.old"):
        (tree / link).unlink(missing_ok=True)

    raw = scratch / "disk.raw"
    with open(raw, "wb") as file:
        file.truncate(disk_sectors * SECTOR)
        file.write(_master_boot_record(signature, boot_sectors, root_start, root_sectors))
        file.seek(BOOT_START * SECTOR)
        with open(boot, "rb") as fat:
            shutil.copyfileobj(fat, file)
    _run(
        ["mke2fs", "-q", "-F", "-t", "ext4", "-L", "root", "-d", str(tree),
         "-E", f"offset={root_start * SECTOR}", str(raw), f"{root_sectors * SECTOR // 1024}k"],
    )  # fmt: skip
    partial = disk.with_suffix(".partial")
    _run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw), str(partial)])
    partial.rename(disk)


def _syslinux_config(signature: int) -> str:
    return (
        "DEFAULT debian\nPROMPT 0\nTIMEOUT 0\nLABEL debian\n"
        "  KERNEL vmlinuz\n  INITRD initrd.img\n"
        f"  APPEND root=PARTUUID={signature:08x}-02 ro console=ttyS0,115200 panic=-1"
        f" {KERNEL_ARGS}\n"
    )


def _master_boot_record(
    signature: int, boot_sectors: int, root_start: int, root_sectors: int
) -> bytes:
    """SYSLINUX's MBR code, the disk signature (``root=PARTUUID=<signature>-02``) and the
    partition table: the bootable FAT16 (LBA) boot partition, then the Linux root."""
    code = SYSLINUX_MBR.read_bytes()[:440]

    def entry(bootable: bool, kind: int, start: int, sectors: int) -> bytes:
        # CHS fields at their "use LBA" maximum: every BIOS since the 1990s reads the LBA.
        chs = b"\xfe\xff\xff"
        return struct.pack("<B3sB3sII", 0x80 if bootable else 0, chs, kind, chs, start, sectors)

    table = (
        entry(True, 0x0E, BOOT_START, boot_sectors)
        + entry(False, 0x83, root_start, root_sectors)
        + bytes(32)
    )
    return code.ljust(440, b"\0") + struct.pack("<I", signature) + b"\0\0" + table + b"\x55\xaa"
