"""EC2 over two hypervisor hosts: one gateway, two ``andromede agent`` processes over mutual TLS.

Both agents run on this machine but are distinct hosts: each has its own state directory,
network namespaces (link prefix), transit and public ranges (tests/support/qemu_host.py), host
name (``hypervisor_host_name``) and TCP port on 127.0.0.1 with a certificate of a throw-away CA;
the gateway (``andromede serve``, two workers) names both in ``hypervisor_hosts`` and starts no
agent of its own. boto3 runs real busybox guests under TCG: a MaxCount=2 reservation lands one
guest on each host (seen in each host's QEMU processes, not only in the API); when one agent is
killed the region goes on — DescribeInstances answers, the host's guest stays as recorded, new
instances go to the other host, a call that needs the dead host is EC2's InternalError — and
once the agent is back, termination cleans up both hosts.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest

from support.guest_images import (
    INIT_MARKER,
    GuestImage,
)
from support.hypervisor_agents import AgentPki, AgentProcess, stop_agents
from support.qemu_host import (
    clear_qemu_host,
    ec2_client,
    guest_image_or_skip,
    import_image,
    new_qemu_host,
    qemu_processes,
)
from support.server import ServerProcess, running_server

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

WAIT = {"Delay": 1, "MaxAttempts": 240}
BOOT_TIMEOUT = 240.0  # TCG on a loaded 2-core machine, three guests


@pytest.fixture(scope="module")
def guest_image() -> GuestImage:
    return guest_image_or_skip()


@dataclass(frozen=True)
class Region:
    gateway: ServerProcess
    gateway_state: Path
    agents: dict[str, AgentProcess]


@pytest.fixture(scope="module")
def region(tmp_path_factory: pytest.TempPathFactory, guest_image: GuestImage) -> Iterator[Region]:
    root = tmp_path_factory.mktemp("ec2hosts")
    pki = AgentPki(root / "pki")
    data_dir = root / "data"
    # The gateway drives no local agent (its state directory stays empty).
    gateway_state, gateway_host_env = new_qemu_host("gw")
    hosts = {name: new_qemu_host(name, gateway_host_env) for name in ("hv-a", "hv-b")}
    agents: dict[str, AgentProcess] = {}
    for name, (state_dir, host_env) in hosts.items():
        agents[name] = AgentProcess(
            name,
            data_dir,
            state_dir,
            {
                **host_env,
                **pki.agent_env(name),
                "ANDROMEDE_HYPERVISOR_HOST_NAME": name,
                "ANDROMEDE_INSTANCE_STOP_TIMEOUT": "30",
            },
        )
    gateway_env = {
        **gateway_host_env,
        "ANDROMEDE_WORKERS": "2",
        "ANDROMEDE_INSTANCE_STOP_TIMEOUT": "30",
        "ANDROMEDE_HYPERVISOR_HOSTS": json.dumps(
            [{"name": a.name, "url": a.url} for a in agents.values()]
        ),
        **pki.gateway_env(),
    }
    try:
        # The gateway first: it migrates the database and writes the secrets key that the
        # agents read (decision 0021); its workers find no host answering yet, and serve.
        with running_server(data_dir, extra_env=gateway_env) as gateway:
            try:
                for agent in agents.values():
                    agent.start()
                yield Region(gateway, gateway_state, agents)
            finally:
                stop_agents(agents.values())
    finally:
        for state_dir, host_env in [*hosts.values(), (gateway_state, gateway_host_env)]:
            clear_qemu_host(state_dir, host_env)


def _console(ec2: Any, instance_id: str) -> str:
    return str(ec2.get_console_output(InstanceId=instance_id).get("Output") or "")


def _wait_for_init(ec2: Any, instance_id: str) -> None:
    marker = f"{INIT_MARKER} instance-id={instance_id}"
    deadline = time.monotonic() + BOOT_TIMEOUT
    while marker not in (console := _console(ec2, instance_id)):
        if time.monotonic() > deadline:
            raise AssertionError(f"console of {instance_id} after {BOOT_TIMEOUT:g}s:\n{console}")
        time.sleep(1)


def _instance_dirs(agent: AgentProcess) -> set[str]:
    """The instances whose QEMU this host runs, by their state directories."""
    return {
        path.parent.name
        for path in agent.state_dir.glob("instances/*/qemu.pid")
        if path.read_text().strip() and _alive(int(path.read_text().strip()))
    }


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def _state(ec2: Any, instance_id: str) -> str:
    reservations = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
    return str(reservations[0]["Instances"][0]["State"]["Name"])


def test_instances_spread_over_two_hosts_and_the_region_outlives_one(
    region: Region, guest_image: GuestImage
) -> None:
    gateway, agents = region.gateway, region.agents
    first, second = agents["hv-a"], agents["hv-b"]
    assert not (region.gateway_state / "agent.sock").exists()  # serve started no agent
    image_id = import_image(gateway, guest_image.disk, "busybox")
    ec2 = ec2_client(gateway)

    run = ec2.run_instances(ImageId=image_id, InstanceType="t2.nano", MinCount=2, MaxCount=2)
    pair = [i["InstanceId"] for i in run["Instances"]]
    ec2.get_waiter("instance_running").wait(InstanceIds=pair, WaiterConfig=WAIT)
    for instance_id in pair:
        _wait_for_init(ec2, instance_id)
    # One guest on each host: each agent's own QEMU processes, in its own state directory.
    assert len(qemu_processes(first.state_dir)) == len(qemu_processes(second.state_dir)) == 1
    assert _instance_dirs(first) | _instance_dirs(second) == set(pair)
    [on_second] = _instance_dirs(second)
    [on_first] = _instance_dirs(first)

    # hv-b's agent dies. Its guest runs on, unseen; the region still answers.
    guest_pid = qemu_processes(second.state_dir)
    second.kill()
    described = ec2.describe_instances(InstanceIds=pair)["Reservations"]
    states = {i["InstanceId"]: i["State"]["Name"] for r in described for i in r["Instances"]}
    assert states == {on_first: "running", on_second: "running"}
    with pytest.raises(botocore.exceptions.ClientError) as failed:
        ec2.get_console_output(InstanceId=on_second)
    assert failed.value.response["Error"]["Code"] == "InternalError"
    assert "does not answer" in failed.value.response["Error"]["Message"]

    # A new instance lands on the host that answers.
    run = ec2.run_instances(ImageId=image_id, InstanceType="t2.nano", MinCount=1, MaxCount=1)
    [third] = [i["InstanceId"] for i in run["Instances"]]
    ec2.get_waiter("instance_running").wait(InstanceIds=[third], WaiterConfig=WAIT)
    _wait_for_init(ec2, third)
    assert _instance_dirs(first) == {on_first, third}
    assert qemu_processes(second.state_dir) == guest_pid
    assert _state(ec2, on_second) == "running"  # still as recorded, never flipped

    # The agent comes back and finds its guest; termination cleans up both hosts.
    second.start()
    assert _instance_dirs(second) == {on_second}
    assert f"{INIT_MARKER} instance-id={on_second}" in _console(ec2, on_second)
    everything = [*pair, third]
    ec2.terminate_instances(InstanceIds=everything)
    ec2.get_waiter("instance_terminated").wait(InstanceIds=everything, WaiterConfig=WAIT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and any(
        qemu_processes(a.state_dir) or list(a.state_dir.glob("volumes/*")) for a in (first, second)
    ):
        time.sleep(0.5)
    for agent in (first, second):
        assert qemu_processes(agent.state_dir) == []
        assert list(agent.state_dir.glob("volumes/*")) == []


def test_the_agents_port_serves_no_one_without_a_certificate_of_the_ca(region: Region) -> None:
    import httpx

    agent = region.agents["hv-a"]
    with httpx.Client(verify=False, timeout=10) as anonymous:  # noqa: S501
        with pytest.raises(httpx.TransportError):
            anonymous.post(f"{agent.url}/v1/running", json={})
    with contextlib.suppress(httpx.TransportError), httpx.Client(timeout=10) as plain:
        answer = plain.post(f"{agent.url.replace('https', 'http')}/v1/running", json={})
        assert answer.status_code != 200
