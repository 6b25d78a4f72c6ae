"""A host's hypervisor reached through its agent's socket: the port, over the wire.

:class:`RemoteDriver` implements :class:`~andromede.compute.driver.HypervisorDriver` by calling
the agent (:mod:`andromede.hypervisor.agent`); the compute service cannot tell it from a driver
in its own process. A failure on the host comes back as :class:`AgentCallFailed` carrying the
driver's message (which the compute service logs and turns into EC2's ``InternalError``); an
agent that cannot be reached is :class:`AgentUnreachable`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from andromede.compute.driver import (
    AttachedVolume,
    HostCapacity,
    InstanceFirewall,
    InstanceNetwork,
    InstanceSpec,
    NetworkPeer,
    RuntimeState,
    VolumeSpec,
)
from andromede.hypervisor.errors import HypervisorError
from andromede.hypervisor.wire import CALLS, decode, encode

__all__ = ["AgentCallFailed", "AgentError", "AgentUnreachable", "RemoteDriver"]


class AgentError(HypervisorError):
    """A call through the agent did not succeed."""


class AgentUnreachable(AgentError):
    """The agent's socket did not answer."""


class AgentCallFailed(AgentError):
    """The agent answered that the call failed on the host."""


class RemoteDriver:
    """The port over an agent's unix socket. ``snapshot_path`` maps a snapshot id to where the
    agent keeps it (the agent's driver layout), which the port needs without a round trip."""

    def __init__(
        self,
        socket_path: Path,
        *,
        host: str,
        snapshot_path: Callable[[str], Path],
        timeout: float = 120.0,
    ) -> None:
        self._host = host
        self._snapshot_path = snapshot_path
        self._client = httpx.AsyncClient(
            transport=httpx.AsyncHTTPTransport(uds=str(socket_path)),
            base_url="http://agent",
            # Stopping a guest waits for its ACPI timeout on the host: the timeout must exceed it.
            timeout=timeout,
        )

    @property
    def host(self) -> str:
        return self._host

    async def _call(self, name: str, *args: Any, **keywords: Any) -> Any:
        call = CALLS[name]
        document = {n: encode(v) for (n, _), v in zip(call.parameters, args, strict=True)}
        document |= {n: encode(keywords[n]) for n, _ in call.keywords}
        try:
            response = await self._client.post(f"/v1/{name}", json=document)
        except httpx.TransportError as exc:
            raise AgentUnreachable(f"hypervisor agent of {self._host}: {exc}") from exc
        answer = response.json()
        if response.status_code != 200:
            raise AgentCallFailed(
                f"{name} on {self._host}: {answer.get('error')}: {answer.get('message')}"
            )
        return None if call.result is None else decode(call.result, answer["result"])

    async def capacity(self) -> HostCapacity:
        result: HostCapacity = await self._call("capacity")
        return result

    async def create_volume(self, spec: VolumeSpec) -> None:
        await self._call("create_volume", spec)

    async def delete_volume(self, volume_id: str) -> None:
        await self._call("delete_volume", volume_id)

    async def snapshot_volume(
        self, volume_id: str, key: bytes, snapshot_id: str, snapshot_key: bytes
    ) -> None:
        await self._call("snapshot_volume", volume_id, key, snapshot_id, snapshot_key)

    async def delete_snapshot(self, snapshot_id: str) -> None:
        await self._call("delete_snapshot", snapshot_id)

    def snapshot_path(self, snapshot_id: str) -> Path:
        return self._snapshot_path(snapshot_id)

    async def start(self, spec: InstanceSpec) -> InstanceNetwork:
        result: InstanceNetwork = await self._call("start", spec)
        return result

    async def set_firewall(self, instance_id: str, firewall: InstanceFirewall) -> None:
        await self._call("set_firewall", instance_id, firewall)

    async def set_network_peers(self, network_id: str, peers: tuple[NetworkPeer, ...]) -> None:
        await self._call("set_network_peers", network_id, peers)

    async def stop(self, instance_id: str, *, timeout: float) -> None:
        await self._call("stop", instance_id, timeout=timeout)

    async def reboot(self, instance_id: str) -> None:
        await self._call("reboot", instance_id)

    async def kill(self, instance_id: str) -> None:
        await self._call("kill", instance_id)

    async def release(self, instance_id: str) -> None:
        await self._call("release", instance_id)

    async def attach_volume(self, instance_id: str, volume: AttachedVolume) -> None:
        await self._call("attach_volume", instance_id, volume)

    async def detach_volume(self, instance_id: str, volume_id: str) -> None:
        await self._call("detach_volume", instance_id, volume_id)

    async def state(self, instance_id: str) -> RuntimeState:
        result: RuntimeState = await self._call("state", instance_id)
        return result

    async def running(self) -> dict[str, RuntimeState]:
        result: dict[str, RuntimeState] = await self._call("running")
        return result

    async def console_output(self, instance_id: str) -> bytes:
        result: bytes = await self._call("console_output", instance_id)
        return result

    async def network(self, instance_id: str) -> InstanceNetwork | None:
        result: InstanceNetwork | None = await self._call("network", instance_id)
        return result

    async def close(self) -> None:
        """Close this client; the agent and its guests go on."""
        await self._client.aclose()
