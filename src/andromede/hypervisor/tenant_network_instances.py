"""Instances on their tenant network (:class:`InstancesMixin`): plugging one (its tap on
its subnet's bridge, its host-facing address, Elastic IP, DHCP lease and security groups, the
network built first when needed), opening its tap for QEMU inside the namespace, unplugging
and releasing it (its subnet and router going with the last instance), and replacing its
security groups or Elastic IP while it runs.

A layer of :class:`~andromede.hypervisor.tenant_network.TenantNetworks` (see
:mod:`~andromede.hypervisor.tenant_network`), split off for size (STYLE §10).
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import socket
import struct
from collections.abc import Mapping
from dataclasses import replace

from andromede.compute.driver_network import (
    InstanceFirewall,
    NicSpec,
)
from andromede.hypervisor.netns_commands import (
    NetworkCommandError,
    _all,
    _in_netns,
    _ip_batch,
    _links,
    _namespace_exists,
    _run,
)
from andromede.hypervisor.network_state import PluggedNic
from andromede.hypervisor.tenant_network_build import BuildMixin

__all__ = ["InstancesMixin"]

# The facade's logger name, as before the split: log settings and readers name it.
log = logging.getLogger("andromede.hypervisor.tenant_network")

_TUNSETIFF = 0x400454CA
_TAP_FLAGS = 0x0002 | 0x1000  # IFF_TAP | IFF_NO_PI


class InstancesMixin(BuildMixin):
    """Instances plugged into their network, and their rules and Elastic IPs."""

    async def open_tap(self, plugged: PluggedNic, *, timeout: float = 10.0) -> int:
        """A file descriptor on the instance's tap, opened inside its network's namespace (a
        tap is opened by name in the namespace it lives in, here by a thread that enters it);
        the caller hands it to QEMU and closes its own copy."""

        def attach() -> int:
            # TUNSETIFF on a name that does not exist would create a new, unplugged tap.
            socket.if_nametoindex(plugged.tap)  # OSError when it is not in the namespace
            tap = os.open("/dev/net/tun", os.O_RDWR | os.O_CLOEXEC)
            try:
                # The flags ``ip tuntap add mode tap`` gave it.
                fcntl.ioctl(tap, _TUNSETIFF, struct.pack("16sH", plugged.tap.encode(), _TAP_FLAGS))
            except BaseException:
                os.close(tap)
                raise
            return tap

        try:
            return await asyncio.wait_for(_in_netns(plugged.netns, attach), timeout)
        except TimeoutError:
            raise NetworkCommandError(f"opening tap {plugged.tap} timed out") from None
        except OSError as exc:
            raise NetworkCommandError(f"opening tap {plugged.tap} failed: {exc}") from None

    async def plug(
        self, instance_id: str, nic: NicSpec, firewall: InstanceFirewall | None = None
    ) -> PluggedNic:
        """Create the instance's tap in its network (isolated port of the subnet's bridge, the
        network built first when needed), give it a host-facing address (its public one when
        ``nic.public_address``), its Elastic IP (``nic.elastic_ip``, checked before anything
        is made: :meth:`set_elastic_ip`), a DHCP lease and its firewall chains —
        ``firewall``, else what it had, else deny all ingress; idempotent."""
        async with self._lock:
            elastic = (
                None
                if nic.elastic_ip is None
                else self._check_elastic_ip(instance_id, nic.elastic_ip)
            )
            record, built = await self._ensure_locked(nic.network, rebuild=False, finish=False)
            if record.stub:
                record.stub = False  # an instance of its own here now
            previous = self._state.nics.get(instance_id)
            if previous is None:
                plugged = PluggedNic(
                    instance_id=instance_id,
                    network_id=nic.network.network_id,
                    netns=self.netns(record.router),
                    tap=self._tap(instance_id),
                    mac=nic.mac,
                    private_ip=nic.private_ip,
                    public_ip=self._free_public_ip(),
                    mapped=nic.public_address,
                    elastic_ip=elastic,
                    secondary_ips=nic.secondary_ips,
                    source_dest_check=nic.source_dest_check,
                    elastic_private_ip=nic.elastic_private_ip,
                    ipv6_addresses=nic.ipv6_addresses,
                )
            else:
                plugged = replace(
                    previous,
                    mapped=nic.public_address,
                    elastic_ip=elastic,
                    secondary_ips=nic.secondary_ips,
                    source_dest_check=nic.source_dest_check,
                    elastic_private_ip=nic.elastic_private_ip,
                    ipv6_addresses=nic.ipv6_addresses,
                )
            self._state.nics[instance_id] = plugged
            rules = self._state.firewalls.setdefault(plugged.network_id, {})
            if firewall is not None:
                rules[plugged.private_ip] = firewall
            rules.setdefault(plugged.private_ip, InstanceFirewall())
            # Its secondary addresses (decision 0161) behind the same rules; those it let go,
            # behind none.
            for gone in set(previous.secondary_ips if previous else ()) - set(nic.secondary_ips):
                rules.pop(gone, None)
            for address in nic.secondary_ips:
                rules[address] = rules[plugged.private_ip]
            self._save()
            tap = plugged.tap
            inside = []
            if tap not in await _links(plugged.netns):
                inside.append(f"tuntap add dev {tap} mode tap")
            if self._overlay(record):
                inside.append(f"link set {tap} mtu {self._layout.overlay_mtu}")
            inside += [
                f"link set {tap} master {record.bridge}",
                f"link set dev {tap} type bridge_slave isolated on",
                f"link set {tap} up",
            ]
            await _all(
                _ip_batch(plugged.netns, *inside),
                _ip_batch(None, *self._host_routes(plugged, record.index)),
            )
            # A router built now gets the bridges of its VPC's subnets held by other hosts.
            built += await self._settle_stubs(record.router)
            await self._apply_overlay(record.router)  # its address is no other host's any more
            await _all(
                self._apply_firewall(record.router),
                self._start_resolver(record.router),
                *(self._restart_dhcp(r) for r in {id(r): r for r in [*built, record]}.values()),
            )
            if previous is not None and previous.elastic_ip not in (None, elastic):
                await self._unroute_elastic(previous.elastic_ip)
            if elastic is not None:
                await self._apply_uplink()
            return plugged

    async def unplug(self, instance_id: str) -> None:
        """Remove the instance's tap, address, lease and rules; no-op when not plugged."""
        async with self._lock:
            await self._unplug_locked(instance_id)

    async def release(self, instance_id: str) -> None:
        """Unplug the instance; when it was its subnet's last instance here, remove the
        subnet's bridge (kept when its VPC still has instances here and the subnet has some
        on other hosts: they are reached through it), and when it was its router's last, the
        whole namespace (nothing of a VPC stays on the host without an instance); idempotent."""
        async with self._lock:
            plugged = self._state.nics.get(instance_id)
            if plugged is None:
                return
            record = self._state.networks.get(plugged.network_id)
            router = record.router if record is not None else plugged.network_id
            others = [n for n in self._router_nics(router) if n.instance_id != instance_id]
            if not others:  # its router's last instance: the namespace goes, all in it
                await self._remove_router_locked(router)
            elif record is not None and not any(n.network_id == record.network_id for n in others):
                if self._remote(record.network_id):
                    record.stub = True  # still the way to the subnet's other hosts
                    await self._unplug_locked(instance_id)
                else:
                    self._state.nics.pop(instance_id)
                    # Its addresses routed into a namespace that stays: the host would send
                    # their traffic to the VPC until they are given again.
                    await self._unroute(plugged)
                    await self._remove_subnet_locked(record)
            else:
                await self._unplug_locked(instance_id)

    async def _unplug_locked(self, instance_id: str) -> None:
        plugged = self._state.nics.pop(instance_id, None)
        if plugged is None:
            return
        for address in plugged.addresses:
            self._state.firewalls.get(plugged.network_id, {}).pop(address, None)
        self._save()
        record = self._state.networks.get(plugged.network_id)
        await self._unroute(plugged)
        if _namespace_exists(plugged.netns) and plugged.tap in await _links(plugged.netns):
            await _run("ip", "-n", plugged.netns, "link", "del", plugged.tap, check=False)
        if record is not None:
            await self._apply_overlay(record.router)
            await _all(self._apply_firewall(record.router), self._restart_dhcp(record))

    async def set_instance_firewall(self, instance_id: str, firewall: InstanceFirewall) -> bool:
        """Replace one plugged instance's rules (its router's ruleset is rewritten atomically,
        the other instances' rules kept); False when the instance is not plugged."""
        async with self._lock:
            plugged = self._state.nics.get(instance_id)
            if plugged is None:
                return False
            held = self._state.firewalls.setdefault(plugged.network_id, {})
            previous = {address: held.get(address) for address in plugged.addresses}
            if all(rules == firewall for rules in previous.values()):
                return True  # the periodic resync's push of what is in force already
            for address in plugged.addresses:  # its secondary addresses too (decision 0161)
                held[address] = firewall
            try:
                await self._apply_firewall(self._state.networks[plugged.network_id].router)
            except BaseException:
                # Not in force: the state must not say it is, or the next push would be
                # skipped as already applied.
                for address, rules in previous.items():
                    if rules is None:
                        held.pop(address, None)
                    else:
                        held[address] = rules
                raise
            self._save()
            return True

    async def set_elastic_ip(self, instance_id: str, address: str | None) -> bool:
        """Route ``address`` (an Elastic IP) to a plugged instance in place of the one it had,
        or take it away (None); False when the instance is not plugged. The address is checked
        first (:func:`~andromede.hypervisor.elastic_ips.check_elastic_ip`: refused, nothing
        changes). Made before broken: the new address is routed, then the router's ruleset
        replaced (DNAT, SNAT, the unmapped drop) atomically, then the old address's route
        removed — a failure leaves the previous address in force. The same address: nothing
        to do."""
        async with self._lock:
            plugged = self._state.nics.get(instance_id)
            if plugged is None:
                return False
            if address is not None:
                address = self._check_elastic_ip(instance_id, address)
            if plugged.elastic_ip == address:
                return True
            record = self._state.networks[plugged.network_id]
            updated = replace(plugged, elastic_ip=address)
            try:
                if address is not None:
                    await _ip_batch(None, *self._host_routes(updated, record.index))
                self._state.nics[instance_id] = updated
                await self._apply_firewall(record.router)
            except BaseException:
                self._state.nics[instance_id] = plugged
                if address is not None:
                    await self._unroute_elastic(address)
                raise
            self._save()
            if plugged.elastic_ip is not None:
                await self._unroute_elastic(plugged.elastic_ip)
            await self._apply_uplink()
            log.info("instance %s: Elastic IP %s", instance_id, address or "taken away")
            return True

    async def set_firewall(
        self, network_id: str, firewalls: Mapping[str, InstanceFirewall]
    ) -> None:
        """Replace the security-group rules of a network's instances (private address → rules),
        atomically. Addresses of instances not plugged are ignored."""
        async with self._lock:
            record = self._state.networks[network_id]
            plugged = {address for nic in self._nics_of(network_id) for address in nic.addresses}
            self._state.firewalls[network_id] = {
                ip: rules for ip, rules in firewalls.items() if ip in plugged
            } | {ip: InstanceFirewall() for ip in plugged - set(firewalls)}
            self._save()
            await self._apply_firewall(record.router)
