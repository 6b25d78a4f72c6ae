"""A host's hypervisor reached through its agent: the port, over the wire.

:class:`RemoteDriver` implements :class:`~andromede.compute.driver.HypervisorDriver` by calling
the agent (:mod:`andromede.hypervisor.agent`) on its unix socket (the host the gateway runs on)
or at its ``https://`` address with a client certificate (another host, decision 0022); the
compute service cannot tell it from a driver in its own process. A failure on the host comes
back as :class:`AgentCallFailed` carrying the driver's message (which the compute service logs
and turns into EC2's ``InternalError``); an agent that cannot be reached is
:class:`AgentUnreachable`, which compute knows as
:class:`~andromede.compute.errors.HostUnreachable`, and so is an agent that answers with
another host's name (:class:`AgentMisidentified`): its answers are never taken for this host's.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

from andromede.compute.driver import (
    AttachedVolume,
    HostCapacity,
    InstanceNetwork,
    InstanceSpec,
    InterfaceSpec,
    RuntimeState,
    SupervisedProcesses,
    VolumeSpec,
)
from andromede.compute.driver_balancing import (
    BalancedListener,
    BalancerReport,
    ProbeResult,
    TargetProbe,
)
from andromede.compute.driver_network import (
    EndpointRoute,
    FlowCapture,
    HostFlows,
    InstanceFirewall,
    InterfaceRoute,
    NatRoute,
    NetworkPeer,
    NetworkSpec,
    PeeringLink,
    SubnetAcl,
    VpcDns,
)
from andromede.compute.errors import HostUnreachable
from andromede.compute.instance_stats import InstanceStats
from andromede.hypervisor.errors import HypervisorError
from andromede.hypervisor.wire import (
    CALLS,
    IMAGE_FORMAT,
    IMAGE_SHA256,
    IMAGES_PATH,
    KEEP_ALIVE_SECONDS,
    decode,
    encode,
)

__all__ = [
    "AgentCallFailed",
    "AgentError",
    "AgentMisidentified",
    "AgentUnreachable",
    "RemoteDriver",
]

log = logging.getLogger(__name__)

# The agent's answer header naming its host (andromede.hypervisor.agent.HOST_HEADER: the agent
# module is the server's, this one the client's; the wire's name is the contract).
_HOST_HEADER = "x-andromede-host"
# An idle kept connection is dropped after this, well before the agent would close it
# (KEEP_ALIVE_SECONDS): a call never races the agent's own close of the connection it reuses.
_KEEPALIVE_EXPIRY = KEEP_ALIVE_SECONDS / 2
# The port's calls that only read the host's state.
_QUERIES = frozenset(
    {"capacity", "running", "state", "network", "console_output", "supervised_processes"}
)
# Calls that act but return at once on a live host, bounded as the queries are, not retried:
# the load balancers' round waits for every host's answer before it probes (session 51).
_QUICK = frozenset({"set_load_balancers"})


class AgentError(HypervisorError):
    """A call through the agent did not succeed."""


class AgentUnreachable(AgentError, HostUnreachable):
    """The agent did not answer (down, cut off, or refused the TLS handshake)."""


class AgentMisidentified(AgentUnreachable):
    """The agent answered with another host's name: not the host declared at this address."""


class AgentCallFailed(AgentError):
    """The agent answered that the call failed on the host."""


class RemoteDriver:
    """The port over an agent's unix socket (a :class:`Path`) or its ``https://`` URL, which
    needs ``tls`` (:func:`~andromede.hypervisor.agent_tls.agent_client_context`). ``host`` is
    the name the agent must report."""

    def __init__(
        self,
        address: Path | str,
        *,
        host: str,
        timeout: float = 120.0,
        connect_timeout: float = 5.0,
        query_timeout: float = 30.0,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self._host = host
        self._misidentified_logged = False
        # Questions that change nothing on the host wait less than the calls that act: a host
        # gone silent on a kept connection (no RST ever comes) must not hold placement or
        # reconciliation for the whole call timeout.
        self._query_timeout = httpx.Timeout(query_timeout, connect=connect_timeout)
        if isinstance(address, Path):
            transport = httpx.AsyncHTTPTransport(uds=str(address))
            base_url = "http://agent"
        else:
            if not address.startswith("https://") or tls is None:
                raise ValueError("a networked agent needs https and a client certificate")
            transport = httpx.AsyncHTTPTransport(verify=tls)
            base_url = address.rstrip("/")
        self._client = httpx.AsyncClient(
            transport=transport,
            base_url=base_url,
            limits=httpx.Limits(keepalive_expiry=_KEEPALIVE_EXPIRY),
            # Stopping a guest waits for its ACPI timeout on the host: the timeout must exceed
            # it. Connecting is quick or the host is away: a short wait, then AgentUnreachable.
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
        )

    @property
    def host(self) -> str:
        return self._host

    async def _call(self, name: str, *args: Any, **keywords: Any) -> Any:
        call = CALLS[name]
        document = {n: encode(v) for (n, _), v in zip(call.parameters, args, strict=True)}
        document |= {n: encode(keywords[n]) for n, _ in call.keywords}
        try:
            if name in _QUERIES:
                response = await self._ask(name, document)
            elif name in _QUICK:
                response = await self._client.post(
                    f"/v1/{name}", json=document, timeout=self._query_timeout
                )
            else:
                response = await self._client.post(f"/v1/{name}", json=document)
        except httpx.TransportError as exc:  # timeouts included
            raise AgentUnreachable(
                f"hypervisor agent of {self._host}: {type(exc).__name__}: {exc}"
            ) from exc
        self._check_host(response)
        answer = response.json()
        if response.status_code != 200:
            raise AgentCallFailed(
                f"{name} on {self._host}: {answer.get('error')}: {answer.get('message')}"
            )
        return None if call.result is None else decode(call.result, answer["result"])

    async def _ask(self, name: str, document: dict[str, Any]) -> httpx.Response:
        """A query, sent once more when the connection it went out on broke before any answer:
        a kept connection the agent closed meanwhile (a restarted agent, a network that cut
        idle connections) is no reason to call the host unreachable and place nothing on it,
        and a query changes nothing on the host. Calls that act are sent once."""
        for attempt in (1, 2):
            try:
                return await self._client.post(
                    f"/v1/{name}", json=document, timeout=self._query_timeout
                )
            except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError):
                if attempt == 2:
                    raise
                log.info(
                    "agent of %s: %s broke on a kept connection; asking again", self._host, name
                )
        raise AssertionError("unreachable")  # pragma: no cover

    def _check_host(self, response: httpx.Response) -> None:
        """Refuse an answer from an agent that names another host than the one declared."""
        reported = response.headers.get(_HOST_HEADER)
        if reported != self._host:
            message = (
                f"the agent declared as host {self._host!r} reports itself as {reported!r}:"
                " it is not used until the names agree"
            )
            if not self._misidentified_logged:
                log.error("%s", message)
                self._misidentified_logged = True
            raise AgentMisidentified(message)

    async def capacity(self) -> HostCapacity:
        result: HostCapacity = await self._call("capacity")
        return result

    async def create_volume(self, spec: VolumeSpec) -> None:
        await self._call("create_volume", spec)

    async def delete_volume(self, volume_id: str) -> None:
        await self._call("delete_volume", volume_id)

    async def grow_volume(self, volume_id: str, key: bytes, size_gib: int) -> None:
        await self._call("grow_volume", volume_id, key, size_gib)

    async def snapshot_volume(
        self, volume_id: str, key: bytes, snapshot_id: str, snapshot_key: bytes
    ) -> None:
        await self._call("snapshot_volume", volume_id, key, snapshot_id, snapshot_key)

    async def copy_snapshot(
        self, source_id: str, source_key: bytes, snapshot_id: str, snapshot_key: bytes
    ) -> None:
        await self._call("copy_snapshot", source_id, source_key, snapshot_id, snapshot_key)

    async def delete_snapshot(self, snapshot_id: str) -> None:
        await self._call("delete_snapshot", snapshot_id)

    async def has_image(self, image_id: str, sha256: str) -> bool:
        result: bool = await self._call("has_image", image_id, sha256)
        return result

    async def put_image(
        self, image_id: str, sha256: str, disk_format: str, chunks: AsyncIterator[bytes]
    ) -> None:
        """The image's bytes streamed as the request body (chunked: nothing buffered here),
        unless the host holds it already. Two puts at once both send; the agent's driver
        writes one and the other's body is read and dropped."""
        if await self.has_image(image_id, sha256):
            return
        try:
            response = await self._client.put(
                IMAGES_PATH + image_id,
                content=chunks,
                headers={IMAGE_SHA256: sha256, IMAGE_FORMAT: disk_format},
            )
        except httpx.TransportError as exc:
            raise AgentUnreachable(f"hypervisor agent of {self._host}: {exc}") from exc
        self._check_host(response)
        if response.status_code != 200:
            answer = response.json()
            raise AgentCallFailed(
                f"put_image on {self._host}: {answer.get('error')}: {answer.get('message')}"
            )

    async def forget_image(self, image_id: str) -> None:
        await self._call("forget_image", image_id)

    async def start(self, spec: InstanceSpec) -> InstanceNetwork:
        result: InstanceNetwork = await self._call("start", spec)
        return result

    async def set_firewall(self, instance_id: str, firewall: InstanceFirewall) -> None:
        await self._call("set_firewall", instance_id, firewall)

    async def set_elastic_ip(self, instance_id: str, address: str | None) -> None:
        await self._call("set_elastic_ip", instance_id, address)

    async def set_network_peers(
        self,
        network_id: str,
        peers: tuple[NetworkPeer, ...],
        *,
        network: NetworkSpec | None = None,
    ) -> None:
        await self._call("set_network_peers", network_id, peers, network=network)

    async def set_network_acl(self, network_id: str, acl: SubnetAcl) -> None:
        await self._call("set_network_acl", network_id, acl)

    async def set_nat_routes(self, router_id: str, routes: tuple[NatRoute, ...]) -> None:
        await self._call("set_nat_routes", router_id, routes)

    async def set_endpoint_routes(self, router_id: str, routes: tuple[EndpointRoute, ...]) -> None:
        await self._call("set_endpoint_routes", router_id, routes)

    async def set_interface_routes(
        self, router_id: str, routes: tuple[InterfaceRoute, ...]
    ) -> None:
        await self._call("set_interface_routes", router_id, routes)

    async def set_peering_links(self, links: tuple[PeeringLink, ...]) -> None:
        await self._call("set_peering_links", links)

    async def set_vpc_dns(self, router_id: str, dns: VpcDns) -> None:
        await self._call("set_vpc_dns", router_id, dns)

    async def collect_flows(self, captures: tuple[FlowCapture, ...]) -> HostFlows:
        result: HostFlows = await self._call("collect_flows", captures)
        return result

    async def supervised_processes(self) -> dict[str, SupervisedProcesses]:
        result: dict[str, SupervisedProcesses] = await self._call("supervised_processes")
        return result

    async def collect_metrics(self) -> tuple[InstanceStats, ...]:
        result: tuple[InstanceStats, ...] = await self._call("collect_metrics")
        return result

    async def set_load_balancers(self, listeners: tuple[BalancedListener, ...]) -> BalancerReport:
        result: BalancerReport = await self._call("set_load_balancers", listeners)
        return result

    async def probe_targets(self, probes: tuple[TargetProbe, ...]) -> tuple[ProbeResult, ...]:
        result: tuple[ProbeResult, ...] = await self._call("probe_targets", probes)
        return result

    async def stop(self, instance_id: str, *, timeout: float) -> None:
        await self._call("stop", instance_id, timeout=timeout)

    async def reboot(self, instance_id: str) -> None:
        await self._call("reboot", instance_id)

    async def kill(self, instance_id: str) -> None:
        await self._call("kill", instance_id)

    async def release(self, instance_id: str) -> None:
        await self._call("release", instance_id)

    async def attach_interface(self, instance_id: str, interface: InterfaceSpec) -> None:
        await self._call("attach_interface", instance_id, interface)

    async def detach_interface(
        self, instance_id: str, interface_id: str, *, force: bool = False
    ) -> None:
        await self._call("detach_interface", instance_id, interface_id, force=force)

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
