"""Compute benchmark (issue 7's targets): `python -m bench.compute_boot [--runs 10] [--fleet 20]`.

In one run on this machine, with the tests' small guest (kernel + busybox initramfs on a disk,
tests/support/guest_images.py) and the same machine type, vCPUs and memory on both sides:

1. **raw QEMU**: the image started by hand as an admin would, unencrypted (``-drive
   …,snapshot=on`` plus a plain NoCloud seed ISO made beforehand), timed from the process start
   to the guest init's marker on the serial console;
2. **andromede**: ``RunInstances`` through boto3 against ``andromede serve`` with
   ``hypervisor = qemu`` (an encrypted overlay and an encrypted seed made for the instance),
   timed from the call to the same marker in the instance's console file (read on the host, so
   polling adds no delay of the API's own). Beside the wall time: when the call answered, when
   the agent logged the guest running (after ``cont``), and QEMU's own CPU seconds by the
   marker on both sides, which a loaded machine disturbs far less than wall time;
3. **fleet**: one RunInstances with MinCount = MaxCount = ``--fleet``: every guest must reach its
   init marker; the time until the last one does is reported;
4. **control-plane memory**: the resident memory of ``serve``'s processes (workers and the
   hypervisor agent, QEMU excluded) with the fleet running, minus before, per instance.

Prints medians and the targets: boot ≤ 1.2x raw QEMU, the whole fleet reaches userspace,
control plane < 5 MiB per running instance. Everything it starts it stops.

``--steps`` instead drives the QEMU driver in this process (no API, no agent) and prints the
median wall time of each step of a first start — volume creation, seed, QEMU spawn, each QMP
command, the guest's boot — beside raw QEMU; it wraps the driver's methods, so it times older
versions of the driver alike (``PYTHONPATH=<their src>``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import hashlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
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


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far: a boot's cost, whatever else the machine runs."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def raw_qemu_boot(image: GuestImage, work: Path, accelerator: str, run: int) -> tuple[float, float]:
    """Seconds from the process start to the init marker, and QEMU's CPU seconds by then."""
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
        reached = _wait_for(console, f"{INIT_MARKER} instance-id={instance_id}", BOOT_TIMEOUT)
        return reached - started, _cpu_seconds(process.pid)
    finally:
        process.kill()
        process.wait()


class StepClock:
    """Wall time of each step of one instance's first start, through the QEMU driver in this
    process (no API, no agent): the driver's own methods are wrapped, so the same code times
    any version of the driver. Steps may overlap (the seed is written while QEMU starts)."""

    def __init__(self) -> None:
        self.spans: dict[str, float] = {}
        self.origin = 0.0
        self.ends: dict[str, float] = {}

    def wrap(self, owner: Any, name: str, label: str | None = None) -> None:
        original = getattr(owner, name)
        clock = self

        async def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.monotonic()
            try:
                return await original(*args, **kwargs)
            finally:
                step = label or name
                if step == "QMP":  # one QMP session per command kind
                    step = f"QMP {args[1] if len(args) > 1 else kwargs.get('command')}"
                clock.spans[step] = clock.spans.get(step, 0.0) + time.monotonic() - started
                clock.ends[step] = time.monotonic() - clock.origin

        setattr(owner, name, timed)

    def wrap_sync(self, owner: Any, name: str, label: str) -> None:
        original = getattr(owner, name)
        clock = self

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.monotonic()
            try:
                return original(*args, **kwargs)
            finally:
                clock.spans[label] = clock.spans.get(label, 0.0) + time.monotonic() - started

        setattr(owner, name, timed)


def _load() -> str:
    """The machine's load: figures from a shared machine mean little without it."""
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min), {five:.1f} (5 min) on {os.cpu_count()} CPUs"


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def _put_image(driver: Any, disk: Path) -> Any:
    """The image sent to the driver as the compute service sends it (once: it then has it)."""
    from andromede.compute.driver import ImageBacking

    content = disk.read_bytes()
    sha256 = hashlib.sha256(content).hexdigest()
    backing = ImageBacking(f"ami-{sha256[:17]}", "raw", sha256)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(content), 1024 * 1024):
            yield content[start : start + 1024 * 1024]

    await driver.put_image(backing.image_id, sha256, "raw", chunks())
    return backing


async def _driver_steps(image: GuestImage, state: Path, run: int) -> dict[str, float]:
    import andromede.hypervisor.qemu as qemu_module
    from andromede.compute.driver import AttachedVolume, InstanceSpec, VolumeSpec
    from andromede.hypervisor import QemuDriver
    from andromede.hypervisor.images import QemuImg
    from andromede.hypervisor.monitor import Monitor
    from andromede.hypervisor.process import QemuProcess

    clock = StepClock()
    saved = [
        (QemuImg, "create_encrypted"), (QemuImg, "write_luks"), (QemuProcess, "spawn"),
        (Monitor, "execute"), (qemu_module, "build_seed_iso"),
    ]  # fmt: skip
    originals = [(owner, name, getattr(owner, name)) for owner, name in saved]
    clock.wrap(QemuImg, "create_encrypted", "volume: create (qcow2 + LUKS)")
    clock.wrap(QemuImg, "write_luks", "seed: LUKS format + write")
    clock.wrap(QemuProcess, "spawn", "QEMU: spawn until QMP listens")
    clock.wrap(Monitor, "execute", "QMP")
    clock.wrap_sync(qemu_module, "build_seed_iso", "seed: ISO build (pycdlib)")
    try:
        driver = QemuDriver(state)
        key = os.urandom(32)
        volume_id, instance_id = f"vol-{run:017x}", f"i-{run:017x}"
        # The host's copy of the image is made once per host, not per boot: before the clock.
        backing = await _put_image(driver, image.disk)
        clock.origin = time.monotonic()
        cpu = _children_cpu()
        await driver.create_volume(VolumeSpec(volume_id, 1, key, backing))
        created = time.monotonic() - clock.origin
        spec = InstanceSpec(
            instance_id, VCPUS, MEMORY_MIB, AttachedVolume(volume_id, "/dev/xvda", key),
            SeedSpec(f"instance-id: {instance_id}\n", b"", "version: 2\n"),
        )  # fmt: skip
        await driver.start(spec)
        running = time.monotonic() - clock.origin
        cpu = _children_cpu() - cpu
        console = state / "instances" / instance_id / "console.log"
        marker = f"{INIT_MARKER} instance-id={instance_id}"
        reached = await asyncio.to_thread(_wait_for, console, marker, BOOT_TIMEOUT)
        qemu_cpu = _cpu_seconds(int((state / "instances" / instance_id / "qemu.pid").read_text()))
        steps = dict(clock.spans)
        steps["create_volume (whole call)"] = created
        steps["start (whole call)"] = running - created
        steps["guest: cont to init marker"] = reached - clock.origin - running
        steps["total: create_volume to init marker"] = reached - clock.origin
        steps["CPU of qemu-img and cryptsetup"] = cpu
        steps["CPU of QEMU by the init marker"] = qemu_cpu
        await driver.kill(instance_id)
        await driver.release(instance_id)
        await driver.delete_volume(volume_id)
        return steps
    finally:
        for owner, name, original in originals:
            setattr(owner, name, original)


def profile_steps(image: GuestImage, accelerator: str, runs: int) -> None:
    """``--steps``: where a first start spends its time, step by step, beside raw QEMU."""
    table: dict[str, list[float]] = {}
    raw: list[float] = []
    raw_cpu: list[float] = []
    with tempfile.TemporaryDirectory(prefix="andr-steps-", dir="/tmp") as tmp:
        for run in range(runs):
            seconds, cpu = raw_qemu_boot(image, Path(tmp), accelerator, run)
            raw.append(seconds)
            raw_cpu.append(cpu)
            steps = asyncio.run(_driver_steps(image, Path(tmp) / "hv", run))
            for name, seconds in steps.items():
                table.setdefault(name, []).append(seconds)
            print(
                f"  run {run + 1}: raw {raw[-1]:.2f} s, driver "
                f"{steps['total: create_volume to init marker']:.2f} s"
            )
    print(f"\n{_load()}")
    print(f"| step ({accelerator}, median of {runs}) | seconds |")
    print("|---|--:|")
    print(f"| raw QEMU: process start to init marker | {statistics.median(raw):.3f} |")
    print(f"| raw QEMU: CPU of QEMU by the init marker | {statistics.median(raw_cpu):.3f} |")
    for name, values in table.items():
        print(f"| {name} | {statistics.median(values):.3f} |")


def _wait_for_all(server: Andromede, instance_ids: list[str], timeout: float) -> list[float]:
    """When each guest reached its init marker, for those that did within ``timeout`` (one
    deadline for all: a guest whose launch failed must not stall the count)."""
    deadline = time.monotonic() + timeout
    reached: dict[str, float] = {}
    while len(reached) < len(instance_ids) and time.monotonic() < deadline:
        for instance_id in instance_ids:
            if instance_id in reached:
                continue
            marker = f"{INIT_MARKER} instance-id={instance_id}".encode()
            with contextlib.suppress(FileNotFoundError):
                if marker in server.console(instance_id).read_bytes():
                    reached[instance_id] = time.monotonic()
        time.sleep(0.1)
    return list(reached.values())


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
        self._log_path = work / "serve.log"
        self._log = self._log_path.open("wb")
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
                self.stop()  # its state folder is outside the work dir: not left behind
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

    def run(self, image_id: str, count: int) -> tuple[float, float, list[str]]:
        """The wall-clock time of the call, its monotonic time, the instance ids."""
        wall, started = time.time(), time.monotonic()
        answer = self.ec2.run_instances(
            ImageId=image_id, InstanceType=TYPE, MinCount=count, MaxCount=count
        )
        return wall, started, [i["InstanceId"] for i in answer["Instances"]]

    def qemu_pid(self, instance_id: str) -> int:
        return int((self.console(instance_id).parent / "qemu.pid").read_text())

    def started_at(self, instance_id: str) -> float:
        """When the agent logged the guest running (QEMU spawned, disks plugged, ``cont``)."""
        needle = f"instance {instance_id} started"
        for line in self._log_path.read_text(errors="replace").splitlines():
            if needle in line:
                stamp = datetime.datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")
                return stamp.timestamp()
        raise RuntimeError(f"no '{needle}' in {self._log_path}")

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
    parser.add_argument(
        "--steps", action="store_true", help="time each step of a start in this process instead"
    )
    options = parser.parse_args(argv)
    image = build_guest_image()
    accelerator = asyncio.run(probe_accelerator("qemu-system-x86_64")).accelerator.value
    print(f"guest image {image.disk}; accelerator {accelerator}; {VCPUS} vCPU, {MEMORY_MIB} MiB")
    print(_load())
    if options.steps:
        profile_steps(image, accelerator, options.runs)
        return 0
    with tempfile.TemporaryDirectory(prefix="andr-bench-compute-") as tmp:
        work = Path(tmp)
        server = Andromede(work, options.fleet)
        try:
            image_id = server.import_image(image)
            raw: list[float] = []
            raw_cpu: list[float] = []
            ours: list[float] = []
            ours_cpu: list[float] = []
            answered: list[float] = []
            running: list[float] = []
            for run in range(options.runs):  # alternate, so drift hits both sides alike
                seconds, cpu = raw_qemu_boot(image, work, accelerator, run)
                raw.append(seconds)
                raw_cpu.append(cpu)
                wall, started, (instance_id,) = server.run(image_id, 1)
                answered.append(time.monotonic() - started)
                marker = f"{INIT_MARKER} instance-id={instance_id}"
                ours.append(_wait_for(server.console(instance_id), marker, BOOT_TIMEOUT) - started)
                ours_cpu.append(_cpu_seconds(server.qemu_pid(instance_id)))
                running.append(server.started_at(instance_id) - wall)
                server.terminate([instance_id])
                print(
                    f"  run {run + 1}: raw {raw[-1]:.2f} s ({raw_cpu[-1]:.2f} s CPU), "
                    f"andromede {ours[-1]:.2f} s ({ours_cpu[-1]:.2f} s CPU; answered in "
                    f"{answered[-1]:.3f} s, guest running after {running[-1]:.3f} s)"
                )
            before = _rss_kib(_serve_tree(server.process.pid))
            _, started, fleet = server.run(image_id, options.fleet)
            reached = _wait_for_all(server, fleet, BOOT_TIMEOUT)
            after = _rss_kib(_serve_tree(server.process.pid))
            server.terminate(fleet)
        finally:
            server.stop()
    raw_median, ours_median = statistics.median(raw), statistics.median(ours)
    ratio = ours_median / raw_median
    cpu_ratio = statistics.median(ours_cpu) / statistics.median(raw_cpu)
    per_instance = (after - before) / 1024 / options.fleet
    print(f"\n{_load()}")
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
        f"| QEMU's CPU by the init marker | {statistics.median(raw_cpu):.2f} s | "
        f"{statistics.median(ours_cpu):.2f} s | {cpu_ratio:.2f}x | - |"
    )
    print(
        f"| RunInstances answered; guest running (after cont) | - | "
        f"{statistics.median(answered):.3f} s; {statistics.median(running):.3f} s | - | - |"
    )
    last = f" in {max(reached) - started:.1f} s" if reached else ""
    print(
        f"| {options.fleet} instances from one RunInstances, all at init | - | "
        f"{len(reached)}/{options.fleet}{last} | - | all "
        f"{'met' if len(reached) == options.fleet else 'NOT met'} |"
    )
    print(
        f"| control-plane memory per running instance (serve + agent RSS) | - | "
        f"{per_instance:.2f} MiB | - | < 5 MiB {'met' if per_instance < 5 else 'NOT met'} |"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
