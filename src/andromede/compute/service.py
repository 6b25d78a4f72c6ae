"""ComputeService: the one entry of the compute context — instances and their lifecycle.

It keeps the EC2 model in the store and makes the hosts follow through their
:class:`~andromede.compute.driver.HypervisorDriver`. A call validates, records the new state
and returns at once (EC2's calls are asynchronous: RunInstances answers ``pending``); the work on
the host runs in a background task that records the next state when it is done (``running``,
``stopped``, ``terminated``). A failed launch is terminated with EC2's reason
``Server.InternalError``; nothing is left on the host.

Placement (:mod:`andromede.compute.scheduler`) and the tenant's quota are decided under one
lock per process, and RunInstances writes all its records in one transaction: it creates
MinCount instances or none. At start-up :meth:`ComputeService.reconcile` compares the database
with what the hosts actually run.

Spot Instance requests are the ``spot_requests`` mixin over ``launching`` (decision 0202);
RunInstances and the steps the lifecycle shares with it are the ``launching`` mixin (the
request itself is ``launch_request``'s); volumes, snapshots, images, key pairs, security groups,
tags and launch templates are mixins of their own (``volumes``, ``image_library``, ``access``,
``tags``, ``launch_templates``…) under it, over one ``service_core``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta

from andromede.compute.driver import (
    HypervisorDriver,
    RuntimeState,
)
from andromede.compute.driver_network import VpcDns
from andromede.compute.elastic_ip import ElasticAddress
from andromede.compute.errors import (
    ComputeError,
    HostUnreachable,
    InsufficientCapacity,
    NotFound,
)
from andromede.compute.instance_options import (
    GUEST_CRASHED_REASON,
    GUEST_SHUTDOWN_REASON,
    refuse_protected,
)
from andromede.compute.launch_request import ROOT_DEVICE, LaunchVolume, RunRequest
from andromede.compute.model import (
    Event,
    Instance,
    InstanceState,
    InstanceType,
    Snapshot,
    Volume,
    VolumeState,
    next_state,
)
from andromede.compute.nat_gateway import NatGateway
from andromede.compute.network import Vpc
from andromede.compute.scheduler import free_room, place
from andromede.compute.spot import SpotInstanceRequest
from andromede.compute.spot_requests import SpotRequestsMixin

__all__ = [
    "ROOT_DEVICE",
    "ComputeService",
    "LaunchVolume",
    "PrivateZones",
    "RunRequest",
    "StateChange",
]

# A VPC's private hosted zones (decision 0280): their names and the document its zone
# responder answers (decision 0284), Route 53's, given to the compute service by the wiring.
PrivateZones = Callable[[str], Awaitable[tuple[tuple[str, ...], str]]]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StateChange:
    instance_id: str
    previous: InstanceState
    current: InstanceState


class ComputeService(SpotRequestsMixin):
    """Instances and their lifecycle; volumes, snapshots, images, key pairs, security groups and
    tags through the mixins over :class:`~andromede.compute.service_core.ServiceCore`."""

    # Route 53's private zones of a VPC (decision 0280), None when Route 53 is not wired.
    private_zones: PrivateZones | None = None

    async def vpc_dns(self, vpc: Vpc) -> VpcDns:
        """The VPC's DNS with the Route 53 private hosted zones associated with it, which its
        resolver answers (decision 0280)."""
        dns = await super().vpc_dns(vpc)
        if self.private_zones is None:
            return dns
        zones, document = await self.private_zones(vpc.vpc_id)
        if not zones:
            return dns
        return replace(dns, private_zones=zones, zone_document=document)

    async def push_vpc_dns(self, vpc_ids: Sequence[str]) -> None:
        """Tell the VPCs' hosts their DNS again (a private zone of theirs changed)."""
        for vpc_id in sorted(set(vpc_ids)):
            await self._push_vpc_dns_of(vpc_id)

    # -- the tenant's lifecycle calls ------------------------------------------------------

    async def describe_instances(self, tenant_id: str, ids: Sequence[str]) -> list[Instance]:
        if ids:
            return [await self._owned(Instance, tenant_id, i, "i") for i in dict.fromkeys(ids)]
        return await self.store.list(Instance, tenant_id)

    async def start_instances(self, tenant_id: str, ids: Sequence[str]) -> list[StateChange]:
        instances = [await self._owned(Instance, tenant_id, i, "i") for i in dict.fromkeys(ids)]
        for instance in instances:
            if instance.state not in (
                InstanceState.STOPPED,
                InstanceState.PENDING,
                InstanceState.RUNNING,
            ):
                next_state(instance.state, Event.START, instance.instance_id)
        changes = []
        for instance in instances:
            if instance.state is not InstanceState.STOPPED:  # already started: EC2 says so
                changes.append(StateChange(instance.instance_id, instance.state, instance.state))
                continue
            async with self._placement:
                capacity = (
                    await self._on_host("start it", self.drivers[instance.host].capacity())
                    if instance.host in self.drivers
                    else None
                )
                if capacity is None:
                    raise InsufficientCapacity(
                        f"The host of {instance.instance_id} is not available"
                    )
                live = [
                    i
                    for i in await self.store.list(Instance, None)
                    if i.state is not InstanceState.TERMINATED
                ]
                if not place(
                    free_room([capacity], live), instance.vcpus, instance.memory_mib, 1
                ) and (
                    instance.lifecycle == "spot"
                    # An on-demand start takes Spot capacity back too (decision 0202).
                    or not await self.reclaim_spot([capacity], live, _held_type(instance), 1, 1)
                ):
                    raise InsufficientCapacity(
                        f"Insufficient capacity to start {instance.instance_id} on its host"
                    )
                changed = await self._apply(instance.instance_id, Event.START)
            if changed is None:
                raise ComputeError(f"instance {instance.instance_id} vanished")
            root = await self.store.get(Volume, instance.root_volume_id)
            if root is None:
                raise NotFound("vol", instance.root_volume_id)
            self._spawn(self._launch(changed, root, None, None, create=False))
            changes.append(StateChange(instance.instance_id, instance.state, changed.state))
        return changes

    async def stop_instances(
        self, tenant_id: str, ids: Sequence[str], *, force: bool = False, for_image: bool = False
    ) -> list[StateChange]:
        """StopInstances; ``for_image``: CreateImage's own stop, which it undoes at its end —
        a tenant's stop tells CreateImage's work not to (decision 0148)."""
        instances = [await self._owned(Instance, tenant_id, i, "i") for i in dict.fromkeys(ids)]
        refuse_protected(instances, stop=True)
        held = [i.spot_request_id for i in instances if i.spot_request_id is not None]
        self.refuse_spot_stop(
            instances,
            {r: s for r in held if (s := await self.store.get(SpotInstanceRequest, r)) is not None},
        )
        for instance in instances:
            if instance.state not in (InstanceState.STOPPED, InstanceState.STOPPING):
                next_state(instance.state, Event.STOP, instance.instance_id)
        if not for_image:
            await self._keep_stopped_after_images(tenant_id, [i.instance_id for i in instances])
        changes = []
        for instance in instances:
            if instance.state in (InstanceState.STOPPED, InstanceState.STOPPING):
                changes.append(StateChange(instance.instance_id, instance.state, instance.state))
                continue
            changed = await self._apply(instance.instance_id, Event.STOP, reason="User initiated")
            if changed is None:
                raise ComputeError(f"instance {instance.instance_id} vanished")
            self._spawn(self._stop_on_host(changed, force=force))
            changes.append(StateChange(instance.instance_id, instance.state, changed.state))
        return changes

    async def _stop_on_host(self, instance: Instance, *, force: bool) -> None:
        driver = self.drivers.get(instance.host)
        try:
            if driver is not None:
                if force:
                    await driver.kill(instance.instance_id)
                else:
                    await driver.stop(instance.instance_id, timeout=self.limits.stop_timeout)
        except HostUnreachable as exc:
            # Its guest may well run on: it stays stopping until its host answers again.
            log.warning("instance %s: its host does not answer: %s", instance.instance_id, exc)
            return
        except Exception:
            log.exception("instance %s: stop failed; killing it", instance.instance_id)
            if driver is not None:
                await driver.kill(instance.instance_id)
        await self._apply(instance.instance_id, Event.STOPPED, quiet=True)
        await self._push_peers(instance.subnet_id)  # its host may hold the subnet no more
        self._push_public_names_later(instance)  # its public address went (0151)

    async def reboot_instances(self, tenant_id: str, ids: Sequence[str]) -> None:
        instances = [await self._owned(Instance, tenant_id, i, "i") for i in dict.fromkeys(ids)]
        for instance in instances:
            next_state(instance.state, Event.REBOOT, instance.instance_id)
        for instance in instances:
            driver = self.drivers.get(instance.host)
            if driver is not None:
                await self._on_host("reboot the instance", driver.reboot(instance.instance_id))

    async def terminate_instances(self, tenant_id: str, ids: Sequence[str]) -> list[StateChange]:
        instances = [await self._owned(Instance, tenant_id, i, "i") for i in dict.fromkeys(ids)]
        refuse_protected(instances, stop=False)
        changes = []
        for instance in instances:
            if instance.state in (InstanceState.SHUTTING_DOWN, InstanceState.TERMINATED):
                # Terminating again is a no-op in EC2, not an error.
                changes.append(StateChange(instance.instance_id, instance.state, instance.state))
                continue
            changed = await self._apply(
                instance.instance_id, Event.TERMINATE, reason="User initiated"
            )
            if changed is None:
                raise ComputeError(f"instance {instance.instance_id} vanished")
            self._spawn(self._terminate_on_host(changed))
            changes.append(StateChange(instance.instance_id, instance.state, changed.state))
        return changes

    async def console_output(self, tenant_id: str, instance_id: str) -> bytes:
        instance = await self._owned(Instance, tenant_id, instance_id, "i")
        driver = self.drivers.get(instance.host)
        if driver is None:
            return b""
        return await self._on_host("read the console", driver.console_output(instance_id))

    # -- start-up ----------------------------------------------------------------------------

    async def reconcile(self) -> None:
        """Make the database agree with the hosts after a restart: an instance recorded as
        running whose QEMU is gone is stopped; a termination cut short is finished; a
        process the database does not know (or knows as terminated) is killed and released."""
        instances = await self.store.list(Instance, None)
        for host, driver in self.drivers.items():
            runtime = await self._running_on(host, driver)
            if runtime is None:
                continue
            known = {i.instance_id: i for i in instances if i.host == host}
            for instance in known.values():
                alive = runtime.get(instance.instance_id) is RuntimeState.RUNNING
                if instance.state is InstanceState.SHUTTING_DOWN:
                    await self._terminate_on_host(instance)
                elif (
                    instance.state
                    in (InstanceState.PENDING, InstanceState.RUNNING, InstanceState.STOPPING)
                    and not alive
                ):
                    log.warning(
                        "instance %s: its QEMU is gone; recorded as stopped", instance.instance_id
                    )
                    await self._apply(
                        instance.instance_id,
                        Event.STOPPED,
                        reason="Server.InternalError: host restarted",
                        quiet=True,
                    )
                elif instance.state is InstanceState.STOPPED and alive:
                    await driver.kill(instance.instance_id)
                elif instance.state is InstanceState.STOPPING:
                    # A stop cut short (its gateway died, or the host did not answer).
                    self._spawn(self._stop_on_host(instance, force=False))
            for instance_id in runtime:
                record = known.get(instance_id)
                if record is None or record.state is InstanceState.TERMINATED:
                    log.warning("host %s: releasing unknown instance %s", host, instance_id)
                    await driver.kill(instance_id)
                    await driver.release(instance_id)
        await self.forget_deregistered_images()
        await self.settle_addresses()
        await self._push_all_peers()

    async def notice_guest_shutdowns(self) -> int:
        """Instances recorded as running whose guest powered itself off (its host reports
        its QEMU gone, ``shut-off``) follow their shutdown behaviour: stopped, or terminated
        (protection guards the API only, as on EC2); one whose QEMU was killed or crashed
        (``crashed``) is stopped whatever its behaviour; returns how many. A record is read
        before its host is asked, and changed only if it did not change since (a conditional
        write on its revision), so an instance that a call stopped, or started again, in the
        meantime is left alone. Run every ``instance_shutdown_check_interval``."""
        running = [
            i for i in await self.store.list(Instance, None) if i.state is InstanceState.RUNNING
        ]
        noticed = 0
        for instance in running:
            driver = self.drivers.get(instance.host)
            if driver is None:
                continue
            try:
                runtime = await driver.state(instance.instance_id)
            except Exception as exc:  # a host away: its instances stay as recorded
                log.debug("instance %s: state unknown: %s", instance.instance_id, exc)
                continue
            if runtime is RuntimeState.CRASHED:
                # Its QEMU was killed or crashed: a fault of the host's, not the guest's own
                # power-off, so stopped whatever its behaviour — terminating would delete its
                # DeleteOnTermination volumes over a host's fault.
                terminate, reason = False, GUEST_CRASHED_REASON
            elif runtime is RuntimeState.SHUT_OFF:
                terminate = instance.shutdown_behavior == "terminate"
                reason = GUEST_SHUTDOWN_REASON
            else:
                continue
            changed = await self._apply(
                instance.instance_id,
                Event.TERMINATE if terminate else Event.STOP,
                reason=reason,
                quiet=True,
                revision=instance.revision,
            )
            if changed is None:
                continue
            noticed += 1
            if runtime is RuntimeState.CRASHED:
                log.warning(
                    "instance %s: its QEMU died on its host; stopping", instance.instance_id
                )
            else:
                log.info(
                    "instance %s: its guest powered off; %s",
                    instance.instance_id,
                    "terminating" if terminate else "stopping",
                )
            if terminate:
                self._spawn(self._terminate_on_host(changed))
            else:
                self._spawn(self._stop_on_host(changed, force=True))
        return noticed

    async def _running_on(
        self, host: str, driver: HypervisorDriver
    ) -> dict[str, RuntimeState] | None:
        """What ``host`` runs; None when it does not answer: what it runs is unknown, so its
        instances stay as recorded (never stopped or terminated for a host briefly away)."""
        try:
            return await driver.running()
        except HostUnreachable as exc:
            log.warning("host %s does not answer; its instances stay as they are: %s", host, exc)
            return None

    async def purge_terminated(self) -> int:
        """Forget instances terminated longer ago than the retention (EC2 shows them for about
        an hour); returns how many."""
        horizon = self.clock() - timedelta(seconds=self.limits.terminated_retention)
        gone = 0
        for instance in await self.store.list(Instance, None):
            ended = instance.terminated_at
            if instance.state is InstanceState.TERMINATED and ended is not None and ended < horizon:
                await self.store.delete(Instance, instance.instance_id)
                gone += 1
        return gone

    async def running_instances(self) -> list[Instance]:
        """Every tenant's instances in the running state (metering's reconciliation)."""
        return [
            i for i in await self.store.list(Instance, None) if i.state is InstanceState.RUNNING
        ]

    async def volume_gib_by_tenant(self) -> dict[str, int]:
        """GiB of volumes each tenant holds (every volume not deleted), for metering."""
        held: dict[str, int] = {}
        for volume in await self.store.list(Volume, None):
            if volume.state is not VolumeState.DELETED:
                held[volume.tenant_id] = held.get(volume.tenant_id, 0) + volume.size_gib
        return held

    async def snapshot_gib_by_tenant(self) -> dict[str, int]:
        """GiB of snapshots each tenant holds, AMIs' included (decision 0169): each by its
        volume's size, as each is a full, self-contained copy here; failed ones hold nothing."""
        held: dict[str, int] = {}
        for snapshot in await self.store.list(Snapshot, None):
            if snapshot.state != "error":
                tenant = snapshot.tenant_id
                held[tenant] = held.get(tenant, 0) + snapshot.volume_size_gib
        return held

    async def public_ipv4_by_tenant(self) -> dict[str, int]:
        """Public IPv4 addresses each tenant holds (decision 0169), as AWS bills them: every
        Elastic IP allocated, in use or idle (a NAT gateway's too), and each running
        instance's own public address when no Elastic IP stands in for it."""
        held: dict[str, int] = {}
        for address in await self.store.list(ElasticAddress, None):
            held[address.tenant_id] = held.get(address.tenant_id, 0) + 1
        for instance in await self.running_instances():
            if instance.associate_public_ip and instance.elastic_ip is None:
                held[instance.tenant_id] = held.get(instance.tenant_id, 0) + 1
        return held

    async def nat_gateways_by_tenant(self) -> dict[str, int]:
        """NAT gateways each tenant holds, neither deleted nor failed (decision 0169)."""
        held: dict[str, int] = {}
        for gateway in await self.store.list(NatGateway, None):
            if gateway.live:
                held[gateway.tenant_id] = held.get(gateway.tenant_id, 0) + 1
        return held

    async def settle(self) -> None:
        """Wait for the work on the hosts started so far (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        await self.settle()
        for driver in self.drivers.values():
            await driver.close()


def _held_type(instance: Instance) -> InstanceType:
    """The size the instance holds on its host (fixed at launch, whatever the catalogue says
    now)."""
    return InstanceType(instance.instance_type, instance.vcpus, instance.memory_mib, 0)
