"""Compute benchmark (issue 7's targets): `python -m bench.compute_boot [--runs 10] [--fleet 20]`.

In one run on this machine, with the tests' small guest (kernel + busybox initramfs on a disk,
tests/support/guest_images.py) and the same vCPUs and memory on both sides:

1. **raw QEMU**: the image started by hand (``-drive …,snapshot=on`` plus a plain NoCloud seed),
   timed from the process start to the guest init's marker on the serial console;
2. **andromede**: ``RunInstances`` through boto3 against ``andromede serve`` with
   ``hypervisor = qemu``, timed from the call to the same marker in the instance's console file
   (read on the host, so polling adds no delay of the API's own);
3. **fleet**: one RunInstances with MinCount = MaxCount = ``--fleet``: every guest must reach its
   init marker; the time until the last one does is reported;
4. **control-plane memory**: the resident memory of ``serve``'s processes (workers and the
   hypervisor agent, QEMU excluded) with the fleet running, minus before, per instance.

Prints medians and the targets: boot ≤ 1.2x raw QEMU, the whole fleet reaches userspace,
control plane < 5 MiB per running instance. Everything it starts it stops.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from andromede.compute.driver import SeedSpec  # noqa: E402
from andromede.hypervisor.accelerator import probe_accelerator  # noqa: E402
from andromede.hypervisor.seed import build_seed_iso  # noqa: E402
from support.guest_images import INIT_MARKER, GuestImage, build_guest_image  # noqa: E402

VCPUS, MEMORY_MIB = 1, 256
BOOT_TIMEOUT = 300.0
TYPE = "bench.small"


def _wait_for(path: Path, marker: str, timeout: float) -> float:
    """Seconds until ``marker`` appears in ``path`` (monotonic clock), or raise."""
    deadline = time.monotonic() + timeout
    needle = marker.encode()
    while time.monotonic() < deadline:
        try:
            if needle in path.read_bytes():
                return time.monotonic()
        except FileNotFoundError:
            pass
        time.sleep(0.02)
    raise TimeoutError(f"{marker!r} not in {path} after {timeout:g}s")


def raw_qemu_boot(image: GuestImage, work: Path, accelerator: str, run: int) -> float:
    instance_id = f"i-raw{run:014d}"
    seed = work / f"seed-{run}.iso"
    seed.write_bytes(build_seed_iso(SeedSpec(f"instance-id: {instance_id}\n", b"", "version: 2\n")))
    console = work / f"console-{run}.log"
    argv = [
        "qemu-system-x86_64", "-machine", f"pc,accel={accelerator}",
        "-smp", str(VCPUS), "-m", str(MEMORY_MIB), "-nodefaults", "-no-user-config",
        "-display", "none", "-serial", f"file:{console}",
        "-drive", f"file={image.disk},format=raw,if=virtio,snapshot=on",
        "-drive", f"file={seed},format=raw,if=virtio,readonly=on",
    ]  # fmt: skip
    started = time.monotonic()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        return _wait_for(console, f"{INIT_MARKER} instance-id={instance_id}", BOOT_TIMEOUT) - (
            started
        )
    finally:
        process.kill()
        process.wait()


def _rss_kib(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


def _serve_tree(root: int) -> list[int]:
    """``serve`` and its descendants, QEMU excluded (QEMU daemonizes: not a descendant)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int(
                    Path(f"/proc/{entry.name}/stat").read_text().rpartition(")")[2].split()[1]
                )
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, [])
    return found


class Andromede:
    """`andromede serve` with hypervisor = qemu in a temporary folder."""

    def __init__(self, work: Path, fleet: int) -> None:
        self.data_dir = work / "data"
        self.state_dir = Path(tempfile.mkdtemp(prefix="andr-bench-hv-", dir="/tmp"))
        self.port = _free_port()
        self.env = {
            **os.environ,
            "ANDROMEDE_HYPERVISOR": "qemu",
            "ANDROMEDE_HYPERVISOR_STATE_DIR": str(self.state_dir),
            # The fleet of 1-vCPU guests must fit the scheduler on this machine's cores.
            "ANDROMEDE_HYPERVISOR_CPU_OVERCOMMIT": str(max(4, fleet)),
            "ANDROMEDE_MAX_INSTANCES_PER_TENANT": str(fleet + 5),
            "ANDROMEDE_MAX_VCPUS_PER_TENANT": str(fleet + 5),
            "ANDROMEDE_INSTANCE_TYPES": json.dumps({TYPE: [VCPUS, MEMORY_MIB, 1]}),
            "ANDROMEDE_INSTANCE_STOP_TIMEOUT": "5",
        }
        executable = Path(sys.executable).parent / "andromede"
        self._log = (work / "serve.log").open("wb")
        self.process = subprocess.Popen(
            [str(executable), "serve", "--data-dir", str(self.data_dir),
             "--s3-port", str(self.port), "--api-port", "0"],
            env=self.env, stdout=subprocess.DEVNULL, stderr=self._log,
            start_new_session=True,
        )  # fmt: skip
        credentials = self.data_dir / "admin-credentials"
        deadline = time.monotonic() + 120
        while not credentials.exists() or not _port_open(self.port):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"andromede did not start; see {work / 'serve.log'}")
            time.sleep(0.2)
        import configparser

        parser = configparser.ConfigParser()
        parser.read(credentials)
        section = parser["andromede"]
        import boto3
        from botocore.config import Config

        self.ec2: Any = boto3.session.Session(
            aws_access_key_id=section["aws_access_key_id"],
            aws_secret_access_key=section["aws_secret_access_key"],
            region_name=section.get("region", "eu-fr-1"),
        ).client(
            "ec2",
            endpoint_url=f"http://127.0.0.1:{self.port}",
            config=Config(retries={"max_attempts": 1}),
        )

    def import_image(self, image: GuestImage) -> str:
        done = subprocess.run(
            [str(Path(sys.executable).parent / "andromede"), "admin", "image", "import",
             str(image.disk), "--name", f"bench-{uuid.uuid4().hex[:6]}", "--public", "--json",
             "--data-dir", str(self.data_dir)],
            capture_output=True, text=True, timeout=300, check=True, env=self.env,
        )  # fmt: skip
        return str(json.loads(done.stdout)["image_id"])

    def console(self, instance_id: str) -> Path:
        return self.state_dir / "instances" / instance_id / "console.log"

    def run(self, image_id: str, count: int) -> tuple[float, list[str]]:
        started = time.monotonic()
        answer = self.ec2.run_instances(
            ImageId=image_id, InstanceType=TYPE, MinCount=count, MaxCount=count
        )
        return started, [i["InstanceId"] for i in answer["Instances"]]

    def terminate(self, ids: list[str]) -> None:
        self.ec2.terminate_instances(InstanceIds=ids)
        self.ec2.get_waiter("instance_terminated").wait(
            InstanceIds=ids, WaiterConfig={"Delay": 1, "MaxAttempts": 300}
        )

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
        for pidfile in self.state_dir.glob("instances/*/qemu.pid"):
            try:
                os.kill(int(pidfile.read_text().strip()), 9)
            except (OSError, ValueError):
                pass
        shutil.rmtree(self.state_dir, ignore_errors=True)
        self._log.close()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_open(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--fleet", type=int, default=20)
    options = parser.parse_args(argv)
    image = build_guest_image()
    accelerator = asyncio.run(probe_accelerator("qemu-system-x86_64")).accelerator.value
    print(f"guest image {image.disk}; accelerator {accelerator}; {VCPUS} vCPU, {MEMORY_MIB} MiB")
    with tempfile.TemporaryDirectory(prefix="andr-bench-compute-") as tmp:
        work = Path(tmp)
        server = Andromede(work, options.fleet)
        try:
            image_id = server.import_image(image)
            raw: list[float] = []
            ours: list[float] = []
            for run in range(options.runs):  # alternate, so drift hits both sides alike
                raw.append(raw_qemu_boot(image, work, accelerator, run))
                started, (instance_id,) = server.run(image_id, 1)
                marker = f"{INIT_MARKER} instance-id={instance_id}"
                ours.append(_wait_for(server.console(instance_id), marker, BOOT_TIMEOUT) - started)
                server.terminate([instance_id])
                print(f"  run {run + 1}: raw {raw[-1]:.2f} s, andromede {ours[-1]:.2f} s")
            before = _rss_kib(_serve_tree(server.process.pid))
            started, fleet = server.run(image_id, options.fleet)
            reached = [
                _wait_for(server.console(i), f"{INIT_MARKER} instance-id={i}", BOOT_TIMEOUT)
                for i in fleet
            ]
            after = _rss_kib(_serve_tree(server.process.pid))
            server.terminate(fleet)
        finally:
            server.stop()
    raw_median, ours_median = statistics.median(raw), statistics.median(ours)
    ratio = ours_median / raw_median
    per_instance = (after - before) / 1024 / options.fleet
    print()
    print(
        f"| measure ({accelerator}, median of {options.runs}) "
        "| raw QEMU | andromede | ratio | target |"
    )
    print("|---|--:|--:|--:|--:|")
    print(
        f"| start to guest init marker | {raw_median:.2f} s | {ours_median:.2f} s | "
        f"{ratio:.2f}x | ≤ 1.2x {'met' if ratio <= 1.2 else 'NOT met'} |"
    )
    print(
        f"| {options.fleet} instances from one RunInstances, all at init | - | "
        f"{len(reached)}/{options.fleet} in {max(reached) - started:.1f} s | - | all "
        f"{'met' if len(reached) == options.fleet else 'NOT met'} |"
    )
    print(
        f"| control-plane memory per running instance (serve + agent RSS) | - | "
        f"{per_instance:.2f} MiB | - | < 5 MiB {'met' if per_instance < 5 else 'NOT met'} |"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
