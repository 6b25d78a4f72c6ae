"""The QEMU driver's interfaces beyond an instance's primary (decision 0161,
:class:`InterfacesMixin`): each is a NIC of its own, plugged into its subnet as the tenant
networks plug an instance — its tap on the subnet's bridge, its DHCP lease, its security
groups on its private address — under the interface's id, and hot-plugged into the guest over
QMP (``getfd`` of the tap opened in the network's namespace, ``netdev_add``, ``device_add`` of
a virtio-net device with its MAC); ``device_del`` and ``netdev_del`` take it away once the
guest let go of it.

The interfaces plugged are recorded beside the guest's other files (``interfaces.json``): a
driver restarted finds them there, the tenant networks keep their taps and rules in their own
state; a start plugs those the spec names before the guest runs, and releases the others.

A part of :class:`~andromede.hypervisor.qemu.QemuDriver`, split off for size (STYLE §10).
"""

from __future__ import annotations

import contextlib
import logging
import os

from andromede.compute.driver import InterfaceSpec, NetworkMode
from andromede.hypervisor.errors import HypervisorError, InstanceNotRunning
from andromede.hypervisor.monitor import Monitor
from andromede.hypervisor.process import QemuProcess
from andromede.hypervisor.qemu_core import QemuDriverCore

__all__ = ["InterfacesMixin", "interface_device_id"]

# The facade's logger name: log settings and readers name it.
logger = logging.getLogger("andromede.hypervisor.qemu")


def interface_device_id(interface_id: str) -> str:
    """The guest's device (and netdev, fd) name for an interface: QEMU ids are short words."""
    return "nic-" + interface_id.removeprefix("eni-")


class InterfacesMixin(QemuDriverCore):
    """Further NICs of a guest, hot-plugged and unplugged."""

    async def attach_interface(self, instance_id: str, interface: InterfaceSpec) -> None:
        async with self._lock(instance_id):
            process = self._process(instance_id)
            if not process.alive():
                raise InstanceNotRunning(f"instance {instance_id} is not running on {self._host}")
            if await self.networking() is not NetworkMode.BRIDGE:
                raise HypervisorError(
                    f"{self._host} wires its guests in user-mode networking: no further interface"
                )
            if interface.device_index == 0:
                # The primary's secondary addresses: its tap stays, its rules cover them.
                await self._networks.plug(instance_id, interface.nic)
                return
            async with self._monitor(instance_id) as qmp:
                await self._plug_interface(qmp, process, interface)

    async def _plug_interface(
        self, qmp: Monitor, process: QemuProcess, interface: InterfaceSpec
    ) -> None:
        """Plug the interface's tap (its rules replaced when plugged already) and, unless the
        guest has it, hot-plug its device; recorded before the guest sees it."""
        plugged = await self._networks.plug(
            interface.interface_id, interface.nic, interface.firewall
        )
        held = process.interfaces()
        if interface.interface_id in held:
            return  # the guest has it: its rules are what changed
        process.write_interfaces([*held, interface.interface_id])
        name = interface_device_id(interface.interface_id)
        tap = await self._networks.open_tap(plugged, timeout=self._config.qmp_timeout)
        try:
            await qmp.pass_fd(f"fd-{name}", tap)
        finally:
            os.close(tap)  # QEMU holds its own copy
        try:
            await qmp.execute(
                "netdev_add", {"type": "tap", "id": f"net-{name}", "fd": f"fd-{name}"}
            )
            await qmp.execute(
                "device_add",
                {"driver": "virtio-net-pci", "id": name, "netdev": f"net-{name}",
                 "mac": interface.nic.mac},
            )  # fmt: skip
        except HypervisorError:
            with contextlib.suppress(HypervisorError):
                await qmp.execute("netdev_del", {"id": f"net-{name}"})
            process.write_interfaces(held)
            await self._networks.release(interface.interface_id)
            raise
        logger.info(
            "instance %s: interface %s plugged (%s)",
            process.directory.name, interface.interface_id, interface.nic.mac,
        )  # fmt: skip

    async def detach_interface(
        self, instance_id: str, interface_id: str, *, force: bool = False
    ) -> None:
        async with self._lock(instance_id):
            process = self._process(instance_id)
            held = process.interfaces()
            if interface_id not in held:
                return
            if process.alive():
                await self._unplug_device(instance_id, interface_id, force=force)
            process.write_interfaces([i for i in held if i != interface_id])
            # Its tap, lease and rules; its subnet's bridge too when it was the last there.
            await self._networks.release(interface_id)

    async def _unplug_device(self, instance_id: str, interface_id: str, *, force: bool) -> None:
        name = interface_device_id(interface_id)
        async with self._monitor(instance_id) as qmp:
            async with qmp.events("DEVICE_DELETED") as listener:
                try:
                    await qmp.execute("device_del", {"id": name})
                    # The guest acknowledges the hot-unplug (ACPI); then the device is gone.
                    removed = await qmp.wait_for(
                        listener, lambda data: data.get("device") == name,
                        self._config.detach_timeout,
                    )  # fmt: skip
                except HypervisorError as exc:
                    logger.debug("detach %s from %s: %s", interface_id, instance_id, exc)
                    removed = True  # not plugged: a retry
            if not removed and not force:
                raise HypervisorError(
                    f"instance {instance_id} did not release interface {interface_id}"
                )
            if not removed:
                # Forced: the device stays in the guest without its backend, and its tap goes.
                logger.warning(
                    "instance %s did not release interface %s: detached by force",
                    instance_id, interface_id,
                )  # fmt: skip
            with contextlib.suppress(HypervisorError):
                await qmp.execute("netdev_del", {"id": f"net-{name}"})

    async def _start_interfaces(
        self, qmp: Monitor, process: QemuProcess, interfaces: tuple[InterfaceSpec, ...]
    ) -> None:
        """At a start, before the guest runs: the interfaces the spec names plugged (the QEMU
        process is new: none is in it yet), those it no longer names released."""
        wanted = {i.interface_id for i in interfaces}
        for gone in process.interfaces():
            if gone not in wanted:
                await self._networks.release(gone)
        process.write_interfaces([])
        for interface in interfaces:
            await self._plug_interface(qmp, process, interface)

    async def _release_interfaces(self, process: QemuProcess) -> None:
        """At the instance's release: every interface it had plugged goes from the host (its
        files go next, the record with them; a release again finds none)."""
        for interface_id in process.interfaces():
            await self._networks.release(interface_id)
