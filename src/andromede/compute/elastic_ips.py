"""Elastic IPs in the compute service (decision 0125): AllocateAddress, DescribeAddresses,
AssociateAddress, DisassociateAddress, ReleaseAddress, and what each change tells the hosts.

An association is written on both sides in one transaction — the address's record and its
instance's copy (:class:`~andromede.compute.model.ElasticIpRef`) — serialised on the instance's
revision (:meth:`ComputeStore.change`), so an instance never holds two addresses nor an address
two instances, whatever gateways associate at once; the instance's lifecycle writes retry on
the moved revision as they do for every other change. Allocation takes the lowest free address
of the region's pool; the database's unique address keeps two gateways from handing it out
twice (the loser takes the next).

The hosts follow the records: a running instance's host is told at once (and its firewall,
which confines what an instance reaches to its routes, recomputed: an address may be what
lets it out), a stopped one's at its next start
(:class:`~andromede.compute.driver_network.NicSpec`), and :meth:`resync_hosts` tells every
host again each interval, so a push lost to a host away or a gateway dying converges. A
terminated instance lets go of its address, as on EC2.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Sequence
from dataclasses import replace

from andromede.compute.elastic_ip import ElasticAddress, free_address
from andromede.compute.errors import (
    AddressLimitExceeded,
    AlreadyAssociated,
    Duplicate,
    GatewayNotAttached,
    IncorrectInstanceState,
    IncorrectState,
    InstanceNotReady,
    InsufficientAddressCapacity,
    InvalidParameterValue,
    ManagedResource,
    MissingParameter,
    NotFound,
    ResourceInUse,
    Unsupported,
)
from andromede.compute.gateways import RoutingMixin
from andromede.compute.interface_hosts import InterfaceHostsMixin
from andromede.compute.model import (
    ElasticIpRef,
    Instance,
    InstanceState,
    Tags,
    check_id,
    check_tags,
    new_id,
)
from andromede.compute.network import NetworkInterface
from andromede.compute.routing import InternetGateway

__all__ = ["ElasticIpsMixin"]

log = logging.getLogger(__name__)

_ATTEMPTS = 8
# Where an address may be associated: a stopped instance keeps it for its next start (EC2).
_ASSOCIABLE = frozenset({InstanceState.RUNNING, InstanceState.STOPPING, InstanceState.STOPPED})


def _public_ip(value: str) -> str:
    try:
        return str(ipaddress.IPv4Address(value))
    except ValueError:
        raise InvalidParameterValue(f"Invalid value '{value[:64]}' for PublicIp") from None


class ElasticIpsMixin(InterfaceHostsMixin, RoutingMixin):
    # -- allocation --------------------------------------------------------------------------

    async def allocate_address(
        self,
        tenant_id: str,
        *,
        address: str | None = None,
        network_border_group: str | None = None,
        tags: Tags = (),
    ) -> ElasticAddress:
        """An address of the region's pool (``address``: that one, if no tenant holds it)."""
        check_tags(tags)
        region = self.limits.region
        if network_border_group is not None and network_border_group != region:
            raise InvalidParameterValue(
                f"The network border group '{network_border_group[:64]}' is invalid: this "
                f"Region's is '{region}'"
            )
        pool = self.limits.elastic_ip_cidr
        if not pool:
            raise InsufficientAddressCapacity("This Region has no Elastic IP addresses to give")
        asked = _public_ip(address) if address is not None else None
        if asked is not None and ipaddress.IPv4Address(asked) not in ipaddress.IPv4Network(pool):
            raise InvalidParameterValue(f"The address {asked} is not in this Region's pool")
        for _ in range(_ATTEMPTS):
            held = await self.store.list(ElasticAddress, None)
            if sum(a.tenant_id == tenant_id for a in held) >= self.limits.max_elastic_ips:
                raise AddressLimitExceeded("The maximum number of addresses has been reached.")
            taken = {a.public_ip for a in held}
            if asked is not None and asked in taken:
                raise InvalidParameterValue(f"The address {asked} is already allocated")
            public_ip = asked or free_address(pool, taken)
            if public_ip is None:
                raise InsufficientAddressCapacity(
                    "There are not enough free addresses in this Region's pool"
                )
            record = ElasticAddress(new_id("eipalloc"), tenant_id, public_ip, region, tags=tags)
            try:
                await self.store.insert(record)
            except Duplicate:
                continue  # another gateway took it between the read and the write
            return record
        raise IncorrectState("The pool changed concurrently; retry")

    async def describe_addresses(
        self, tenant_id: str, allocation_ids: Sequence[str], public_ips: Sequence[str]
    ) -> list[ElasticAddress]:
        """The tenant's addresses, or those named (every one named must be the tenant's). One
        on an interface beyond a primary shows the instance the interface is attached to now."""
        attached = {
            i.interface_id: i.instance_id
            for i in await self.store.list(NetworkInterface, tenant_id)
            if i.elastic_ip is not None and i.instance_id
        }
        held = [
            replace(a, instance_id=attached[a.network_interface_id])
            if a.instance_id is None and a.network_interface_id in attached
            else a
            for a in await self.store.list(ElasticAddress, tenant_id)
        ]
        by_id = {a.allocation_id: a for a in held}
        by_ip = {a.public_ip: a for a in held}
        for allocation_id in allocation_ids:
            check_id(allocation_id, "eipalloc")
            if allocation_id not in by_id:
                raise NotFound("eipalloc", allocation_id)
        for public_ip in public_ips:
            if _public_ip(public_ip) not in by_ip:
                raise NotFound("address", public_ip)
        if not allocation_ids and not public_ips:
            return held
        wanted = set(allocation_ids) | {by_ip[_public_ip(ip)].allocation_id for ip in public_ips}
        return [a for a in held if a.allocation_id in wanted]

    async def _elastic_address(
        self, tenant_id: str, allocation_id: str | None, public_ip: str | None
    ) -> ElasticAddress:
        if allocation_id is not None:
            return await self._owned(ElasticAddress, tenant_id, allocation_id, "eipalloc")
        if public_ip is None:
            raise MissingParameter("Either AllocationId or PublicIp must be specified")
        ip = _public_ip(public_ip)
        for held in await self.store.list(ElasticAddress, tenant_id):
            if held.public_ip == ip:
                return held
        raise NotFound("address", ip)

    async def release_address(
        self,
        tenant_id: str,
        *,
        allocation_id: str | None = None,
        public_ip: str | None = None,
        network_border_group: str | None = None,
    ) -> None:
        """Give the address back to the pool; EC2's ``InvalidIPAddress.InUse`` while it is
        associated."""
        if network_border_group is not None and network_border_group != self.limits.region:
            raise InvalidParameterValue(
                f"The network border group '{network_border_group[:64]}' is invalid"
            )
        for _ in range(_ATTEMPTS):
            address = await self._elastic_address(tenant_id, allocation_id, public_ip)
            if address.nat_gateway_id is not None:
                raise ManagedResource()  # a NAT gateway's, until it is deleted (decision 0129)
            if address.association_id is not None:
                raise ResourceInUse("eipalloc", f"Address {address.public_ip} is in use.")
            if await self.store.change(address, delete=[(ElasticAddress, address.allocation_id)]):
                return
        raise IncorrectState("The address changed concurrently; retry")

    # -- associations ------------------------------------------------------------------------

    async def associate_address(
        self,
        tenant_id: str,
        *,
        allocation_id: str | None = None,
        public_ip: str | None = None,
        instance_id: str | None = None,
        network_interface_id: str | None = None,
        private_ip: str | None = None,
        allow_reassociation: bool = False,
    ) -> ElasticAddress:
        """Associate the address with an instance's primary interface (named by the instance
        or the interface), or with an interface beyond a primary (decision 0161's addendum).
        An instance or interface that holds another address lets go of it, as on EC2; an
        address associated elsewhere moves only with ``allow_reassociation``. Returns the
        address as associated."""
        if network_interface_id is not None and instance_id is None:
            further = await self._owned(NetworkInterface, tenant_id, network_interface_id, "eni")
            if further.interface_type == "interface" and (
                not further.instance_id or further.device_index > 0
            ):
                return await self._associate_interface(
                    tenant_id, (allocation_id, public_ip), further, private_ip,
                    allow_reassociation=allow_reassociation,
                )  # fmt: skip
        for _ in range(_ATTEMPTS):
            address = await self._elastic_address(tenant_id, allocation_id, public_ip)
            if address.nat_gateway_id is not None:
                raise ManagedResource()  # a NAT gateway's: it does not move (decision 0129)
            instance = await self._association_target(tenant_id, instance_id, network_interface_id)
            self._check_associable(instance, private_ip)
            await self._check_gateway(tenant_id, instance)
            if address.instance_id == instance.instance_id and address.association_id:
                return address  # already there: nothing moves
            others: list[Instance | ElasticAddress | NetworkInterface] = []
            if address.association_id is not None:
                if not allow_reassociation:
                    raise AlreadyAssociated(
                        f"resource {address.allocation_id} is already associated with "
                        f"associate-id {address.association_id}"
                    )
                others += await self._let_go_elsewhere(address)
            held = instance.elastic_ip
            if held is not None and held.allocation_id != address.allocation_id:
                replaced = await self.store.get(ElasticAddress, held.allocation_id)
                if replaced is not None and replaced.instance_id == instance.instance_id:
                    others.append(_unassociated(replaced))
            associated = replace(
                address,
                association_id=new_id("eipassoc"),
                instance_id=instance.instance_id,
                network_interface_id=instance.network_interface_id,
                private_ip=instance.private_ip,
            )
            changed = replace(instance, elastic_ip=associated.reference)
            if await self.store.change(changed, replace=[associated, *others]):
                for other in others:
                    if isinstance(other, Instance):
                        await self._route_address(other, None)
                    elif isinstance(other, NetworkInterface):
                        await self._push_interface(other)
                await self._route_address(changed, address.public_ip)
                moved = [o for o in others if isinstance(o, Instance)]
                self._push_public_names_later(changed, *moved)  # named anew (0151)
                return replace(associated, revision=associated.revision + 1)
        raise IncorrectState("The address or the instance changed concurrently; retry")

    async def disassociate_address(
        self, tenant_id: str, *, association_id: str | None = None, public_ip: str | None = None
    ) -> None:
        for _ in range(_ATTEMPTS):
            address = await self._associated_address(tenant_id, association_id, public_ip)
            if address.nat_gateway_id is not None:
                raise ManagedResource()  # it goes with its NAT gateway (decision 0129)
            interface = await self._interface_holder(address)
            if interface is not None:
                freed = replace(interface, elastic_ip=None)
                if await self.store.change(freed, replace=[_unassociated(address)]):
                    await self._push_interface(freed)
                    return
                continue
            holder = await self._holder(address)
            done = (
                await self.store.change(
                    replace(holder, elastic_ip=None), replace=[_unassociated(address)]
                )
                if holder is not None
                else await self.store.replace(_unassociated(address))
            )
            if done:
                if holder is not None:
                    await self._route_address(holder, None)
                    self._push_public_names_later(holder)  # its name goes or changes (0151)
                return
        raise IncorrectState("The address changed concurrently; retry")

    async def _associated_address(
        self, tenant_id: str, association_id: str | None, public_ip: str | None
    ) -> ElasticAddress:
        if association_id is None:
            address = await self._elastic_address(tenant_id, None, public_ip)
            if address.association_id is None:
                raise NotFound("eipassoc", address.public_ip)
            return address
        check_id(association_id, "eipassoc")
        for held in await self.store.list(ElasticAddress, tenant_id):
            if held.association_id == association_id:
                return held
        raise NotFound("eipassoc", association_id)

    async def _association_target(
        self, tenant_id: str, instance_id: str | None, network_interface_id: str | None
    ) -> Instance:
        if instance_id is not None and network_interface_id is not None:
            raise InvalidParameterValue(
                "Only one of InstanceId and NetworkInterfaceId may be specified"
            )
        if network_interface_id is not None:
            interface = await self._owned(NetworkInterface, tenant_id, network_interface_id, "eni")
            if interface.interface_type != "interface":
                raise ManagedResource()  # a NAT gateway's interface (decision 0129)
            if not interface.instance_id or interface.device_index != 0:
                # The hosts route an Elastic IP to an instance's primary address (decision 0161).
                raise Unsupported(
                    f"Elastic IPs are associated with an instance's primary interface only; "
                    f"'{network_interface_id}' is not one"
                )
            instance_id = interface.instance_id
        if instance_id is None:
            raise MissingParameter("Either InstanceId or NetworkInterfaceId must be specified")
        return await self._owned(Instance, tenant_id, instance_id, "i")

    @staticmethod
    def _check_associable(instance: Instance, private_ip: str | None) -> None:
        if instance.state is InstanceState.PENDING:
            raise InstanceNotReady(
                f"The pending instance '{instance.instance_id}' is not in a valid state for "
                "this operation."
            )
        if instance.state not in _ASSOCIABLE:
            raise IncorrectInstanceState(instance.instance_id, instance.state.value, "associate")
        if instance.network_mode == "user":
            # No address of the guest's is routed by a host without tenant networks.
            raise Unsupported(
                f"The host of '{instance.instance_id}' wires its guests in user-mode networking: "
                "Elastic IPs need its tenant networks"
            )
        if instance.network_interface_id is None or instance.private_ip is None:
            raise Unsupported(
                f"The instance '{instance.instance_id}' has no network interface to associate "
                "an address with"
            )
        if private_ip is not None and private_ip != instance.private_ip:
            raise InvalidParameterValue(
                f"The private IP address {private_ip[:64]} is not assigned to the interface "
                f"{instance.network_interface_id}"
            )

    async def _check_gateway(self, tenant_id: str, instance: Instance) -> None:
        """EC2 associates an address only in a VPC with an internet gateway attached."""
        if instance.vpc_id is not None:
            await self.routed(await self.owned_vpc(tenant_id, instance.vpc_id))
        gateways = await self.store.list(InternetGateway, tenant_id)
        if instance.vpc_id is None or not any(g.vpc_id == instance.vpc_id for g in gateways):
            raise GatewayNotAttached(
                f"Network {instance.vpc_id} is not attached to any internet gateway"
            )

    async def _associate_interface(
        self,
        tenant_id: str,
        named: tuple[str | None, str | None],
        interface: NetworkInterface,
        private_ip: str | None,
        *,
        allow_reassociation: bool,
    ) -> ElasticAddress:
        """The address on an interface beyond a primary, attached or not (decision 0161's
        addendum): written with the interface's record at the revision read, so an interface
        never holds two addresses; its instance's host, when it runs, is told by attaching
        the interface again (its NIC now with the address)."""
        for _ in range(_ATTEMPTS):
            address = await self._elastic_address(tenant_id, *named)
            if address.nat_gateway_id is not None:
                raise ManagedResource()  # a NAT gateway's: it does not move (decision 0129)
            current = await self._owned(NetworkInterface, tenant_id, interface.interface_id, "eni")
            if private_ip is not None and private_ip not in current.addresses:
                raise InvalidParameterValue(
                    f"The private IP address {private_ip[:64]} is not assigned to the "
                    f"interface {current.interface_id}"
                )
            instance = None
            if current.instance_id:
                instance = await self.store.get(Instance, current.instance_id)
            if instance is not None and instance.network_mode == "user":
                raise Unsupported(
                    f"The host of '{instance.instance_id}' wires its guests in user-mode "
                    "networking: Elastic IPs need its tenant networks"
                )
            await self._check_vpc_gateway(tenant_id, current.vpc_id)
            target = private_ip or current.private_ip
            if (
                address.association_id is not None
                and address.network_interface_id == current.interface_id
                and address.private_ip == target
            ):
                return address  # already there: nothing moves
            others: list[Instance | ElasticAddress | NetworkInterface] = []
            if address.association_id is not None:
                if not allow_reassociation:
                    raise AlreadyAssociated(
                        f"resource {address.allocation_id} is already associated with "
                        f"associate-id {address.association_id}"
                    )
                # Moved between two addresses of this interface: its own record is rewritten below.
                others += [
                    o
                    for o in await self._let_go_elsewhere(address)
                    if not (
                        isinstance(o, NetworkInterface) and o.interface_id == current.interface_id
                    )
                ]
            held = current.elastic_ip
            if held is not None and held.allocation_id != address.allocation_id:
                replaced = await self.store.get(ElasticAddress, held.allocation_id)
                if replaced is not None:
                    others.append(_unassociated(replaced))
            associated = replace(
                address,
                association_id=new_id("eipassoc"),
                instance_id=None,
                network_interface_id=current.interface_id,
                private_ip=target,
            )
            ref = ElasticIpRef(
                address.allocation_id, associated.association_id or "", address.public_ip
            )
            changed = replace(current, elastic_ip=ref)
            if await self.store.change(changed, replace=[associated, *others]):
                for other in others:
                    if isinstance(other, Instance):
                        await self._route_address(other, None)
                    elif isinstance(other, NetworkInterface):
                        await self._push_interface(other)
                await self._push_interface(replace(changed, revision=changed.revision + 1))
                if instance is not None:
                    self._push_later(tenant_id, (), vpc_ids=(current.vpc_id,))
                return replace(associated, revision=associated.revision + 1)
        raise IncorrectState("The address or the interface changed concurrently; retry")

    async def _let_go_elsewhere(
        self, address: ElasticAddress
    ) -> list[Instance | ElasticAddress | NetworkInterface]:
        """What lets go of ``address`` where it is associated now: its instance's or its
        interface's record, without it."""
        interface = await self._interface_holder(address)
        if interface is not None:
            return [replace(interface, elastic_ip=None)]
        previous = await self._holder(address)
        return [] if previous is None else [replace(previous, elastic_ip=None)]

    async def _interface_holder(self, address: ElasticAddress) -> NetworkInterface | None:
        """The interface beyond a primary whose record holds ``address``'s association."""
        if address.association_id is None or address.network_interface_id is None:
            return None
        interface = await self.store.get(NetworkInterface, address.network_interface_id)
        if interface is None or interface.elastic_ip is None:
            return None
        if interface.elastic_ip.association_id != address.association_id:
            return None
        return interface

    async def _check_vpc_gateway(self, tenant_id: str, vpc_id: str) -> None:
        await self.routed(await self.owned_vpc(tenant_id, vpc_id))
        gateways = await self.store.list(InternetGateway, tenant_id)
        if not any(g.vpc_id == vpc_id for g in gateways):
            raise GatewayNotAttached(f"Network {vpc_id} is not attached to any internet gateway")

    async def _holder(self, address: ElasticAddress) -> Instance | None:
        """The instance whose record holds ``address``'s association (None: gone, or it let
        go — a termination cut short before the address was told)."""
        if address.instance_id is None:
            return None
        instance = await self.store.get(Instance, address.instance_id)
        if instance is None or instance.elastic_ip is None:
            return None
        if instance.elastic_ip.association_id != address.association_id:
            return None
        return instance

    async def _route_address(self, instance: Instance, public_ip: str | None) -> None:
        """Tell the instance's host, if it runs there, and recompute its VPC's firewalls (an
        address can be what lets an instance out). A failure is logged: the record is the
        truth, pushed again at the next start and by :meth:`resync_hosts`."""
        if instance.state is not InstanceState.RUNNING:
            return
        driver = self.drivers.get(instance.host)
        if driver is not None:
            try:
                await driver.set_elastic_ip(instance.instance_id, public_ip)
            except Exception:
                log.exception(
                    "instance %s: its Elastic IP could not be set on its host",
                    instance.instance_id,
                )
        self._push_later(instance.tenant_id, (), vpc_ids=(instance.vpc_id or "",))

    async def _let_go_of_address(self, instance_id: str) -> None:
        """A terminated instance's address stays the tenant's, associated with nothing."""
        for _ in range(_ATTEMPTS):
            instance = await self.store.get(Instance, instance_id)
            if instance is None or instance.elastic_ip is None:
                return
            address = await self.store.get(ElasticAddress, instance.elastic_ip.allocation_id)
            released = replace(instance, elastic_ip=None)
            if address is None or address.association_id != instance.elastic_ip.association_id:
                done = await self.store.replace(released)
            else:
                done = await self.store.change(released, replace=[_unassociated(address)])
            if done:
                return
        log.warning("instance %s: its Elastic IP could not be let go of", instance_id)

    async def settle_addresses(self) -> None:
        """Repair what a gateway dying mid-way can leave: an address associated with an
        instance that is gone, terminated, or does not hold it."""
        for address in await self.store.list(ElasticAddress, None):
            if address.association_id is None or address.nat_gateway_id is not None:
                continue  # free, or a NAT gateway's: no instance holds it
            if await self._interface_holder(address) is not None:
                continue  # an interface's (decision 0161's addendum), attached or not
            holder = await self._holder(address)
            if holder is None or holder.state is InstanceState.TERMINATED:
                if holder is not None:
                    await self._let_go_of_address(holder.instance_id)
                else:
                    await self.store.replace(_unassociated(address))

    async def resync_hosts(self) -> None:
        """Every interval, after the firewalls and peers: the addresses' repairs, then every
        running instance's address told to its host again — those let go of first, so an
        address that moved between two instances of one host is free when the other takes
        it."""
        await super().resync_hosts()
        await self.settle_addresses()
        running = [
            i for i in await self.store.list(Instance, None) if i.state is InstanceState.RUNNING
        ]
        running.sort(key=lambda i: i.elastic_ip is not None)
        for instance in running:
            driver = self.drivers.get(instance.host)
            if driver is None:
                continue
            ref = instance.elastic_ip
            try:
                await driver.set_elastic_ip(
                    instance.instance_id, ref.public_ip if ref is not None else None
                )
            except Exception:
                log.exception("instance %s: its Elastic IP could not be set", instance.instance_id)


def _unassociated(address: ElasticAddress) -> ElasticAddress:
    return replace(
        address, association_id=None, instance_id=None, network_interface_id=None, private_ip=None
    )
