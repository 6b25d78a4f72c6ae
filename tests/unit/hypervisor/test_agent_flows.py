"""Flow log capture over the agent wire (decision 0153): the gateway tells a host which
interfaces to capture and gets back what it counted since, records and skipped intervals
intact through the wire's types (their TCP flags too, decision 0348); an interface no longer
captured reports nothing more."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from andromede.compute.driver_memory import MemoryDriver
from andromede.compute.driver_network import (
    FlowCapture,
    HostFlows,
    SkippedFlows,
)
from andromede.compute.flow_log_files import FlowKey, FlowRecord
from andromede.compute.traffic import INTERNET_OUT, TrafficCount
from andromede.hypervisor.agent import agent_ready, serve_agent
from andromede.hypervisor.remote import RemoteDriver
from andromede.hypervisor.wire import CALLS, decode, encode

A = FlowCapture("subnet-1", "10.0.0.5", "eni-a")
RECORD = FlowRecord(FlowKey("eni-a", "10.0.0.5", "10.0.0.6", 40000, 443, 6, "REJECT"), 2, 120, 5, 9)


@pytest.fixture
async def agent(tmp_path: Path) -> AsyncIterator[tuple[Path, MemoryDriver]]:
    driver = MemoryDriver(vcpus=4, memory_mib=4096)
    socket_path = tmp_path / "agent" / "agent.sock"
    stop = asyncio.Event()
    task = asyncio.create_task(serve_agent(driver, socket_path, stop))
    assert await asyncio.to_thread(agent_ready, socket_path, 10.0)
    yield socket_path, driver
    stop.set()
    await task


async def test_captures_go_and_counts_come_back(agent: tuple[Path, MemoryDriver]) -> None:
    socket_path, driver = agent
    remote = RemoteDriver(socket_path, host="memory-host")
    try:
        assert await remote.collect_flows((A,)) == HostFlows()
        assert driver.flow_captures == (A,)
        driver.counted_flows.append(RECORD)
        driver.counted_flows.append(
            FlowRecord(FlowKey("eni-b", "10.0.0.7", "10.0.0.6", 1, 2, 17, "ACCEPT"), 1, 1, 5, 9)
        )
        # Only the captured interface's count comes back; then the host captures nothing.
        assert await remote.collect_flows(()) == HostFlows((RECORD,))
        assert driver.flow_captures == ()
        driver.counted_flows.append(RECORD)
        assert await remote.collect_flows(()) == HostFlows()
    finally:
        await remote.close()


def test_the_wire_keeps_every_field() -> None:
    call = CALLS["collect_flows"]
    ((_, kind),) = call.parameters
    assert decode(kind, encode((A,))) == (A,)
    flows = HostFlows((RECORD,), (SkippedFlows("eni-a", 5, 9),))
    assert decode(call.result, encode(flows)) == flows
    # Decision 0348: a record's TCP flags cross the wire; left out while 0, so a gateway of
    # the release before reads a record as it did.
    flagged = HostFlows((dataclasses.replace(RECORD, tcp_flags=19),))
    assert decode(call.result, encode(flagged)) == flagged
    assert b"tcp_flags" not in json.dumps(encode(HostFlows((RECORD,)))).encode()


async def test_the_hosts_meters_come_back_once(agent: tuple[Path, MemoryDriver]) -> None:
    """Decision 0176: what a host's routers counted for billing comes back with its flows
    over the agent's socket, once."""
    socket_path, driver = agent
    remote = RemoteDriver(socket_path, host="memory-host")
    counted = TrafficCount(INTERNET_OUT, "vpc-1", "10.0.0.5", 4096)
    try:
        driver.counted_traffic.append(counted)
        assert await remote.collect_flows(()) == HostFlows(traffic=(counted,))
        assert await remote.collect_flows(()) == HostFlows()
    finally:
        await remote.close()
