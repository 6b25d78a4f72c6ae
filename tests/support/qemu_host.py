"""A private hypervisor host for the e2e tests that run ``andromede serve`` with QEMU.

Each server gets its own state directory (short: QMP socket paths fit in 107 bytes), its own
link prefix and its own transit, public and Elastic IP ranges (one reserved block: 100.64.<b>,
100.65.<b> and 100.66.<b>.0/24), so parallel test servers — two xdist workers, or two runs on
one machine — never share a network namespace, a link, an address, a host route to an Elastic
IP or NAT gateway address, or the metadata listener's address; :func:`clear_qemu_host`
removes what a failed test left (stopping serve stops its agent, never the guests nor their
tenant networks, nor the host's metadata guard). :func:`import_image` and :func:`ec2_client`
are the operator's and the tenant's first steps on it.

A block is taken only when nothing on the machine claims any of its three /24s: no address or
host route in them (an Elastic IP's /32 route left by a killed run), no metadata guard of
another host naming them (a guard left by a killed run drops every guest's metadata request to
that range, whatever the prefix of the host that takes it next), and no reservation of a live
test process (two xdist workers picking at once). The Elastic IPs' range matters because a host
routes each Elastic IP as a /32 in the machine's one main table: two servers handing out
100.66.0.1 would each ``route replace`` it towards their own guest, and the later one wins.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from support.guest_images import GuestImage, GuestImageUnavailable, build_guest_image
from support.launcher import run_command
from support.server import ANDROMEDE, REGION, ServerProcess, running_server

__all__ = [
    "bridged_server",
    "clear_qemu_host",
    "ec2_client",
    "guest_image_or_skip",
    "import_image",
    "new_qemu_host",
    "outside_address",
    "qemu_processes",
    "tenant_networks_guest_image",
]


def new_qemu_host(name: str, region: dict[str, str] | None = None) -> tuple[Path, dict[str, str]]:
    """A fresh state directory and the serve settings that make it this run's host.

    ``region``: the settings of the region server (another :func:`new_qemu_host`'s) whose
    hosts this one is; it then takes that server's Elastic IP range, as an operator's hosts and
    region server read one configuration (the hosts route what the region hands out)."""
    state_dir = Path(tempfile.mkdtemp(prefix=f"andromede-e2e-{name}-", dir="/tmp"))
    block = _reserve_block(state_dir)
    env = {
        "ANDROMEDE_HYPERVISOR": "qemu",
        "ANDROMEDE_HYPERVISOR_STATE_DIR": str(state_dir),
        "ANDROMEDE_HYPERVISOR_LINK_PREFIX": f"q{uuid.uuid4().hex[:4]}",
        "ANDROMEDE_HYPERVISOR_TRANSIT_CIDR": f"100.64.{block}.0/24",
        "ANDROMEDE_HYPERVISOR_PUBLIC_CIDR": f"100.65.{block}.0/24",
        "ANDROMEDE_ELASTIC_IP_CIDR": (
            region["ANDROMEDE_ELASTIC_IP_CIDR"] if region else f"100.66.{block}.0/24"
        ),
    }
    return state_dir, env


def outside_address(env: dict[str, str]) -> str:
    """An address of TEST-NET-3 the host's reserved block names (203.0.113.<block>), for a test
    to put on the machine's loopback as "the Internet" its guests reach: unique on the machine
    as the block is, where a random pick could be another live test's (and its teardown would
    take it away)."""
    return f"203.0.113.{env['ANDROMEDE_HYPERVISOR_TRANSIT_CIDR'].split('.')[2]}"


# One file per reserved /24, holding the pid of the test process that holds it.
_RESERVATIONS = Path(tempfile.gettempdir()) / "andromede-e2e-transit-blocks"


def _reserve_block(state_dir: Path) -> int:
    """A block (its /24 of 100.64, 100.65 and 100.66.0.0/16) nothing on this machine claims,
    reserved until :func:`clear_qemu_host` (random, so concurrent pickers rarely contend)."""
    _RESERVATIONS.mkdir(exist_ok=True)
    # One picker at a time: taking over a dead process's reservation is a read, then a write.
    with (_RESERVATIONS / ".lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        claimed = _claimed_blocks()
        candidates = [block for block in range(1, 255) if block not in claimed]
        while candidates:
            block = candidates.pop(secrets.randbelow(len(candidates)))
            reservation = _RESERVATIONS / str(block)
            if reservation.exists() and _holder_alive(reservation):
                continue
            reservation.write_text(f"{os.getpid()} {state_dir}\n")
            return block
    raise RuntimeError("every transit /24 of 100.64.0.0/16 is claimed on this machine")


def _claimed_blocks() -> set[int]:
    """Blocks whose transit, public or Elastic IP /24 (100.64, 100.65 or 100.66.<block>) an
    address, a host route or any nftables rule (a metadata guard) names."""
    found = "".join(
        subprocess.run(command, capture_output=True, text=True, check=False).stdout
        for command in (
            ["ip", "-o", "-4", "addr", "show"],
            ["ip", "-4", "route", "show", "table", "all"],
            ["nft", "list", "ruleset"],
        )
    )
    return {int(block) for block in re.findall(r"\b100\.6[456]\.(\d{1,3})\.", found)}


def _holder_alive(reservation: Path) -> bool:
    try:
        os.kill(int(reservation.read_text().split()[0]), 0)
    except (OSError, ValueError, IndexError):
        return False
    return True


def clear_qemu_host(state_dir: Path, env: dict[str, str]) -> None:
    """Kill QEMU and dnsmasq by their pid files, delete the host's namespaces, metadata guard,
    folder and transit reservation."""
    for pidfile in [*state_dir.glob("instances/*/qemu.pid"), *state_dir.glob("networks/*.pid")]:
        try:
            os.kill(int(pidfile.read_text().strip()), 9)
        except (OSError, ValueError):
            pass
    prefix = env["ANDROMEDE_HYPERVISOR_LINK_PREFIX"]
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False)
    for line in listed.stdout.splitlines():
        if line.startswith(f"{prefix}-"):
            name = line.split(" ", 1)[0]
            subprocess.run(["ip", "netns", "delete", name], capture_output=True, check=False)
    subprocess.run(
        ["nft", "delete", "table", "inet", f"andromede_imds_{prefix}"],
        capture_output=True,
        check=False,
    )
    shutil.rmtree(state_dir, ignore_errors=True)
    block = env["ANDROMEDE_HYPERVISOR_TRANSIT_CIDR"].split(".")[2]
    reservation = _RESERVATIONS / block
    try:
        if reservation.read_text().split()[1:] == [str(state_dir)]:
            reservation.unlink()
    except (OSError, IndexError):
        pass


def qemu_processes(state_dir: Path) -> list[int]:
    """QEMU processes of this host (not its dnsmasq, which runs under the state dir too)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"qemu-system" in argv[0] and str(state_dir).encode() in b" ".join(argv):
                found.append(int(entry.name))
    return found


def import_image(server: ServerProcess, disk: Path, name: str) -> str:
    """``andromede admin image import`` of a public image (a fresh name each time); its id."""
    done = run_command(
        [str(ANDROMEDE), "admin", "image", "import", str(disk), "--name",
         f"{name}-{uuid.uuid4().hex[:6]}", "--public", "--json",
         "--data-dir", str(server.data_dir)],
        env={**os.environ, **server.extra_env}, timeout=300, check=True,
    )  # fmt: skip
    image_id: str = json.loads(done.stdout)["image_id"]
    return image_id


def ec2_client(server: ServerProcess, credentials: tuple[str, str] | None = None) -> Any:
    """boto3's EC2 client on the server (the first tenant's root unless told), no retries."""
    access_key, secret_key = credentials or server.credentials()
    session = boto3.session.Session(
        aws_access_key_id=access_key, aws_secret_access_key=secret_key, region_name=REGION
    )
    return session.client(
        "ec2", endpoint_url=server.endpoint, config=Config(retries={"max_attempts": 1})
    )


def guest_image_or_skip() -> GuestImage:
    """The tests' small guest (kernel + busybox initramfs), built once per machine; the test is
    skipped, naming what is missing, where QEMU is not installed or the image cannot be built."""
    missing = [tool for tool in ("qemu-system-x86_64", "qemu-img") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"QEMU is not installed ({', '.join(missing)}; scripts/install-system-deps.sh)")
    try:
        return build_guest_image()
    except GuestImageUnavailable as exc:
        pytest.skip(f"cannot build the test guest image: {exc}")


def tenant_networks_guest_image() -> GuestImage:
    """:func:`guest_image_or_skip`, first skipping where tenant networks cannot be made."""
    if os.geteuid() != 0:
        pytest.skip("tenant networks need root (network namespaces, bridges, nftables)")
    return guest_image_or_skip()


@contextmanager
def bridged_server(
    data_dir: Path, name: str, extra_env: dict[str, str] | None = None
) -> Iterator[ServerProcess]:
    """``andromede serve`` on a private QEMU host of its own (``name``) whose guests are on
    tenant networks (bridge networking): one worker, and one vCPU per guest (TCG on a shared
    2-core machine), with ``extra_env``'s settings. What a failed test left on the host is
    cleared after."""
    state_dir, host_env = new_qemu_host(name)
    env = {
        **host_env,
        "ANDROMEDE_WORKERS": "1",
        "ANDROMEDE_HYPERVISOR_NETWORKING": "bridge",
        "ANDROMEDE_INSTANCE_STOP_TIMEOUT": "5",
        "ANDROMEDE_INSTANCE_TYPES": json.dumps({"t3.nano": [1, 256, 8]}),
        **(extra_env or {}),
    }
    try:
        with running_server(data_dir, extra_env=env) as running:
            yield running
    finally:
        clear_qemu_host(state_dir, host_env)
