#!/usr/bin/env bash
# Install the Debian packages that `make run` and `make test` need, and only those missing.
#
# Target: a fresh Debian 12 (bookworm). Runs as root, or through sudo when available.
# Idempotent and fast when nothing is missing: every check (command -v, dpkg -s, a trial venv)
# happens before any `apt-get update`, so a complete machine never touches the network.
#
# What each package is for:
#   python3-venv     `python3 -m venv .venv` (Debian splits ensurepip out of python3)
#   rclone           tests/e2e/test_rclone.py and the benchmark
#   memcached        the benchmark's OpenStack Swift peer keeps its tokens there
#   ca-certificates  pip and HTTPS downloads
#   softhsm2         a software PKCS#11 token: tests/contract/test_root_key_providers.py runs the
#                    HSM root-key provider against it (and an operator can try the HSM mode)
#   postgresql       initdb/pg_ctl/postgres for the tests' private cluster
#                    (scripts/postgres-cluster.sh) and the distributed mode on one machine
#   ceph-mon ceph-mgr ceph-osd  the private single-node Ceph cluster of the tests and the
#                    benchmark (scripts/ceph-cluster.sh); no daemon is enabled or started by apt
#                    in a container without systemd, the script runs its own
#   ceph-common      the `ceph` and `rados` tools that set the cluster up and check it
#   radosgw          Ceph RGW, the benchmark's peer on the same Ceph cluster (bench/rgw.py);
#                    its radosgw-admin comes with ceph-common
#   python3-rados    librados for the RADOS blob backend; scripts/venv-link-rados.sh links it
#                    into .venv (docs/decisions/0008-librados-in-venv.md)
#   python3-rbd      librbd for instance volumes in Ceph RBD (hypervisor_volume_backend = rbd),
#                    linked into .venv the same way (docs/decisions/0018-rbd-volumes.md)
#   iproute2 nftables dnsmasq-base  tenant networks of the compute service: namespaces,
#                    bridges, veths and taps (ip, bridge), security groups and NAT (nft), DHCP
#                    (andromede/hypervisor/tenant_network.py)
#   busybox          its DHCP client (udhcpc) plays the guest in tests/contract/test_tenant_networks.py
#   qemu-system-x86  QEMU for the compute instances (andromede.hypervisor), KVM or TCG
#   qemu-utils       qemu-img: the LUKS-encrypted qcow2 volumes and seeds of instances (and
#                    qemu-io, which the unit tests read and write them through)
#   qemu-block-extra QEMU's and qemu-img's rbd block driver: volumes in Ceph RBD
#   cryptsetup-bin   makes the LUKS headers of instance volumes and seeds in milliseconds
#                    (qemu-img spends about 2 s of CPU benchmarking PBKDF2 for each)
#   syslinux syslinux-common mtools  the boot sector and FAT file system of the tests' small
#                    guest image (tests/support/guest_images.py; the kernel and busybox in it
#                    are extracted from Debian packages, not installed)
#   debootstrap      the tests' Debian bookworm + cloud-init guest (tests/support/debian_image.py;
#                    its ext4 root is written by e2fsprogs' mke2fs -d, its boot partition by
#                    mtools and syslinux as above)
#   openssh-client   the real `ssh` with which tests/e2e/test_ec2_debian.py logs into that guest
#                    (its host keys checked against the ones GetConsoleOutput shows)
#   xmlsec1          the XML Security Library's command line: tests/support/saml.py signs the test
#                    IdP's SAML Responses with it, so that the server's verifier (signxml) is
#                    checked against another implementation (decision 0095)
#   chromium         the browser that tests/e2e/test_console_browser.py drives with Playwright
#                    (launched from /usr/bin/chromium: Playwright's own browsers are never
#                    downloaded)
#   valgrind         callgrind, which counts the instructions of a small request in
#                    `python -m bench.instructions` (bench/tests/test_instructions.py)
#   bubblewrap       `bwrap`, the sandbox Lambda functions run in on the gateway host: new user,
#                    PID, IPC, UTS, cgroup and network namespaces, the code read-only
#                    (andromede/functions/sandbox.py, decision 0286)
#   libfaketime      tests/unit/test_clock_ahead.py runs the clock-sensitive store contracts again
#                    with the wall clock a year ahead (LD_PRELOAD), to find fixed-date time bombs
# The aws CLI (awscli v1) and s3cmd come from PyPI into .venv (the `dev` extra), not from apt.
set -euo pipefail

missing=()

# Debian's python3 lacks ensurepip until python3-venv (python3.X-venv) is installed, and
# `python3 -m venv --help` works without it; Debian ships the ensurepip package itself in
# python3.X-venv, so importing it is a fast and exact check (no trial venv, no pip run).
venv_works() {
  command -v python3 >/dev/null 2>&1 && python3 -c 'import ensurepip, venv' >/dev/null 2>&1
}

package_installed() {
  [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = "installed" ]
}

command -v python3 >/dev/null 2>&1 || missing+=(python3)
venv_works || missing+=(python3-venv)
command -v rclone >/dev/null 2>&1 || missing+=(rclone)
command -v memcached >/dev/null 2>&1 || missing+=(memcached)
package_installed ca-certificates || missing+=(ca-certificates)
command -v softhsm2-util >/dev/null 2>&1 || missing+=(softhsm2)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
for daemon in ceph-mon ceph-mgr ceph-osd; do
  command -v "$daemon" >/dev/null 2>&1 || missing+=("$daemon")
done
command -v rados >/dev/null 2>&1 || missing+=(ceph-common)
command -v radosgw >/dev/null 2>&1 || missing+=(radosgw)
package_installed python3-rados || missing+=(python3-rados)
package_installed python3-rbd || missing+=(python3-rbd)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
command -v nft >/dev/null 2>&1 || missing+=(nftables)
command -v dnsmasq >/dev/null 2>&1 || missing+=(dnsmasq-base)
command -v busybox >/dev/null 2>&1 || missing+=(busybox)
command -v qemu-system-x86_64 >/dev/null 2>&1 || missing+=(qemu-system-x86)
command -v qemu-img >/dev/null 2>&1 || missing+=(qemu-utils)
package_installed qemu-block-extra || missing+=(qemu-block-extra)
PATH="$PATH:/usr/sbin:/sbin" command -v cryptsetup >/dev/null 2>&1 || missing+=(cryptsetup-bin)
command -v syslinux >/dev/null 2>&1 || missing+=(syslinux)
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
[ -f /usr/lib/syslinux/modules/bios/ldlinux.c32 ] || missing+=(syslinux-common)
command -v mcopy >/dev/null 2>&1 || missing+=(mtools)
PATH="$PATH:/usr/sbin:/sbin" command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
command -v ssh >/dev/null 2>&1 || missing+=(openssh-client)
command -v valgrind >/dev/null 2>&1 || missing+=(valgrind)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v xmlsec1 >/dev/null 2>&1 || missing+=(xmlsec1)
package_installed libfaketime || missing+=(libfaketime)

if [ "${#missing[@]}" -eq 0 ]; then
  echo "system-deps: nothing to install (python3-venv, rclone, memcached, ca-certificates, softhsm2, postgresql, ceph, network tools, qemu with rbd, cryptsetup, syslinux, bubblewrap, debootstrap, ssh, valgrind, xmlsec1, libfaketime, chromium present)"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "system-deps: apt-get not found; install by hand: ${missing[*]}" >&2
  exit 1
fi

if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo)
else
  echo "system-deps: need root (or sudo) to install: ${missing[*]}" >&2
  exit 1
fi

# The versioned package (python3.11-venv) is what actually ships ensurepip on bookworm;
# python3-venv depends on it, so naming python3-venv is enough.
echo "system-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"

# memcached and postgresql start system services on install; the benchmark and the tests run
# their own instances on their own ports, so the system ones are left as Debian configures them.
for package in "${missing[@]}"; do
  case "$package" in
    python3-venv) venv_works || { echo "system-deps: python3 -m venv still fails" >&2; exit 1; } ;;
    ca-certificates|python3-rados|python3-rbd|qemu-block-extra|syslinux-common|libfaketime)
      package_installed "$package" || exit 1 ;;
    qemu-system-x86) command -v qemu-system-x86_64 >/dev/null 2>&1 || exit 1 ;;
    qemu-utils) command -v qemu-img >/dev/null 2>&1 || exit 1 ;;
    mtools) command -v mcopy >/dev/null 2>&1 || exit 1 ;;
    cryptsetup-bin) package_installed cryptsetup-bin || exit 1 ;;
    debootstrap) package_installed debootstrap || exit 1 ;;
    openssh-client) command -v ssh >/dev/null 2>&1 || exit 1 ;;
    bubblewrap) command -v bwrap >/dev/null 2>&1 || { echo "system-deps: bwrap missing" >&2; exit 1; } ;;
    ceph-common) command -v rados >/dev/null 2>&1 || { echo "system-deps: rados missing" >&2; exit 1; } ;;
    softhsm2) command -v softhsm2-util >/dev/null 2>&1 || { echo "system-deps: softhsm2-util missing" >&2; exit 1; } ;;
    iproute2) command -v ip >/dev/null 2>&1 || exit 1 ;;
    nftables) command -v nft >/dev/null 2>&1 || exit 1 ;;
    dnsmasq-base) command -v dnsmasq >/dev/null 2>&1 || exit 1 ;;
    postgresql) ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || exit 1 ;;
    *) command -v "$package" >/dev/null 2>&1 || { echo "system-deps: $package missing" >&2; exit 1; } ;;
  esac
done
echo "system-deps: done"
