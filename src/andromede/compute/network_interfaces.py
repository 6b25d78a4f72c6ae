"""Elastic network interfaces beyond an instance's primary (decision 0161): made on their own
in a subnet (CreateNetworkInterface), attached to an instance of their zone and VPC at a device
index of 1 or more and detached again, their attributes (groups, description, source/destination
check, whether terminating the instance deletes them), and the secondary private addresses of
any interface, the primary's included (Assign/UnassignPrivateIpAddresses).

An attachment is written with the instance's record replaced at the revision read, in one
change: two attachments to one instance at once never take one device index or pass the limit
(``max_interfaces_per_instance``). A secondary address is a :class:`PrivateAddress` record whose
id is its subnet and itself, so the database keeps one holder of it whichever gateway assigns
it; the interface lists its own in the same change. What the hosts are told of them is
``interface_hosts``'.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace

from andromede.compute.elastic_ip import ElasticAddress
from andromede.compute.errors import (
    AttachmentLimitExceeded,
    Duplicate,
    IncorrectInstanceState,
    IncorrectState,
    InvalidParameterValue,
    ManagedResource,
    MissingParameter,
    NetworkLimitExceeded,
    NotFound,
    OperationNotPermitted,
    ResourceInUse,
    Unsupported,
)
from andromede.compute.instance_attributes import MAX_GROUPS_PER_INSTANCE
from andromede.compute.interface_hosts import InterfaceHostsMixin
from andromede.compute.ipv6 import Ipv6Address
from andromede.compute.launch_request import RunRequest
from andromede.compute.model import (
    Instance,
    InstanceState,
    SecurityGroup,
    Tags,
    check_client_token,
    check_id,
    check_tags,
    new_id,
    request_digest,
    token_id,
)
from andromede.compute.network import (
    DEFAULT_GROUP_NAME,
    NetworkInterface,
    PrivateAddress,
    Subnet,
    free_addresses,
    new_mac,
    private_address_id,
    usable_addresses,
)
from andromede.compute.service_core import NAME_MAX
from andromede.compute.store import Record

__all__ = ["FurtherInterface", "InterfaceRequest", "NetworkInterfacesMixin"]

log = logging.getLogger(__name__)

# Attempts at one write when another gateway took an address or moved a record first.
_ATTEMPTS = 8
# Instance states an interface may be attached to or detached from, as on EC2.
_ATTACHABLE = frozenset({InstanceState.RUNNING, InstanceState.STOPPED})


@dataclass(frozen=True, slots=True)
class InterfaceRequest:
    """What CreateNetworkInterface asks: a subnet, its primary address (or the lowest free),
    secondary addresses named or counted, security groups (the VPC's default group when
    none), a description, tags and a client token."""

    subnet_id: str
    private_ip: str | None = None
    secondary_ips: tuple[str, ...] = ()
    secondary_count: int = 0
    group_ids: tuple[str, ...] = ()
    description: str = ""
    tags: Tags = ()
    client_token: str | None = None
    # Its IPv6 addresses (decision 0217), named or counted.
    ipv6_addresses: tuple[str, ...] = ()
    ipv6_count: int = 0


@dataclass(frozen=True, slots=True)
class FurtherInterface:
    """RunInstances' ``NetworkInterface.N`` at a device index of 1 or more: an existing
    interface (``interface_id``) or one made for each instance (``request``, its subnet the
    instance's when it names none), attached once the instance is recorded."""

    device_index: int
    interface_id: str | None = None
    request: InterfaceRequest | None = None
    delete_on_termination: bool = True


class NetworkInterfacesMixin(InterfaceHostsMixin):
    # -- making and deleting -----------------------------------------------------------------

    async def create_network_interface(
        self, tenant_id: str, request: InterfaceRequest
    ) -> NetworkInterface:
        check_id(request.subnet_id, "subnet")
        await self.default_network_if_any(tenant_id)
        subnet = await self._owned(Subnet, tenant_id, request.subnet_id, "subnet")
        if len(request.description) > NAME_MAX:
            raise InvalidParameterValue(f"The description is longer than {NAME_MAX} characters")
        check_tags(request.tags)
        wanted = [a for a in (request.private_ip, *request.secondary_ips) if a is not None]
        for address in wanted:
            self._check_in_subnet(subnet, address)
        if len(set(wanted)) != len(wanted):
            raise InvalidParameterValue("The same private IP address is given twice")
        if request.secondary_count < 0:
            raise InvalidParameterValue("SecondaryPrivateIpAddressCount must not be negative")
        if request.secondary_count and request.secondary_ips:
            raise InvalidParameterValue(
                "SecondaryPrivateIpAddressCount and secondary PrivateIpAddresses are exclusive"
            )
        total = 1 + len(request.secondary_ips) + request.secondary_count
        self._check_address_count(total)
        group_ids = await self._interface_groups(tenant_id, subnet, request.group_ids)
        digest = ""
        interface_id = new_id("eni")
        if request.client_token is not None:
            token = check_client_token(request.client_token)
            asked = {
                "subnet": subnet.subnet_id,
                "ips": wanted,
                "count": request.secondary_count,
                "groups": list(group_ids),
                "description": request.description,
            }
            if request.ipv6_addresses or request.ipv6_count:
                asked |= {"ipv6": list(request.ipv6_addresses), "ipv6_count": request.ipv6_count}
            digest = request_digest(asked)
            interface_id = token_id("eni", tenant_id, token)
            made = await self._made_with_token(NetworkInterface, tenant_id, interface_id, digest)
            if made is not None:
                return made
        for _ in range(_ATTEMPTS):
            taken = await self._taken_addresses(subnet)
            held = [a for a in wanted if a in taken]
            if held:
                raise ResourceInUse("private-ip", f"Address {held[0]} is in use.")
            count = total - len(wanted)
            chosen = free_addresses(subnet.cidr, {*taken, *wanted}, count)
            if len(chosen) < count:
                raise NetworkLimitExceeded(
                    "private-ip-capacity",
                    f"There are not enough free addresses in subnet '{subnet.subnet_id}'",
                )
            primary = request.private_ip or chosen.pop(0)
            secondaries = (*request.secondary_ips, *chosen)
            ipv6 = await self._new_ipv6(subnet, request)
            interface = NetworkInterface(
                interface_id=interface_id,
                tenant_id=tenant_id,
                vpc_id=subnet.vpc_id,
                subnet_id=subnet.subnet_id,
                availability_zone=subnet.availability_zone,
                private_ip=primary,
                mac=new_mac(),
                instance_id="",
                created_at=self.clock(),
                tags=request.tags,
                description=request.description,
                group_ids=group_ids,
                secondary_ips=secondaries,
                request_digest=digest,
                ipv6_addresses=ipv6,
            )
            try:
                await self.store.insert(
                    interface,
                    *_address_records(interface, secondaries),
                    *(Ipv6Address(a, tenant_id, subnet.subnet_id, interface_id) for a in ipv6),
                )
            except Duplicate:
                if request.client_token is not None:
                    made = await self._made_with_token(
                        NetworkInterface, tenant_id, interface_id, digest
                    )
                    if made is not None:
                        return made
                if wanted or request.ipv6_addresses:
                    raise ResourceInUse("private-ip", "A requested address is in use.") from None
                continue  # another gateway took one of these addresses: pick again
            return interface
        raise IncorrectState("The subnet's addresses changed concurrently; retry")

    async def _new_ipv6(self, subnet: Subnet, request: InterfaceRequest) -> tuple[str, ...]:
        """The IPv6 addresses a new interface asks (decision 0217: the IPv6 layer draws and
        checks them); none here."""
        if request.ipv6_addresses or request.ipv6_count:
            raise Unsupported("IPv6 addresses are given by the IPv6 layer")
        return ()

    async def delete_network_interface(self, tenant_id: str, interface_id: str) -> None:
        interface = await self._interface(tenant_id, interface_id)
        if interface.instance_id:
            raise ResourceInUse("eni", f"Network interface '{interface_id}' is currently in use.")
        gone: list[tuple[type[Record], str]] = [(NetworkInterface, interface_id)]
        gone += [(PrivateAddress, a.address_id) for a in _address_records(interface)]
        gone += [(Ipv6Address, a) for a in interface.ipv6_addresses]
        if not await self.store.change(
            interface, delete=gone, replace=await self._elastic_let_go(interface)
        ):
            raise IncorrectState(f"{interface_id} changed concurrently; retry")

    # -- attachments -------------------------------------------------------------------------

    async def attach_network_interface(
        self,
        tenant_id: str,
        interface_id: str,
        instance_id: str,
        device_index: int,
        *,
        delete_on_termination: bool = False,
        launching: bool = False,
    ) -> NetworkInterface:
        """AttachNetworkInterface; ``launching``: RunInstances' own, to its pending instance
        (its host is told once it runs: :meth:`_push_interfaces`)."""
        allowed = {*_ATTACHABLE, InstanceState.PENDING} if launching else _ATTACHABLE
        if device_index < 0:
            raise InvalidParameterValue(f"Invalid value '{device_index}' for deviceIndex")
        for _ in range(_ATTEMPTS):
            interface = await self._interface(tenant_id, interface_id)
            instance = await self._owned(Instance, tenant_id, instance_id, "i")
            if interface.instance_id:
                raise ResourceInUse("eni", f"Interface: [{interface_id}] in use.")
            if instance.state not in allowed:
                raise IncorrectInstanceState(instance_id, instance.state.value, "attach to")
            if interface.availability_zone != instance.availability_zone:
                raise InvalidParameterValue(
                    f"Interface {interface_id} is in {interface.availability_zone}, instance "
                    f"{instance_id} in {instance.availability_zone}: they must be in one zone"
                )
            if instance.vpc_id and interface.vpc_id != instance.vpc_id:
                raise InvalidParameterValue(
                    f"Interface {interface_id} and instance {instance_id} belong to different "
                    "networks."
                )
            held = await self.interfaces_of(instance)
            if any(i.device_index == device_index for i in held):
                raise InvalidParameterValue(
                    f"Instance '{instance_id}' already has an interface attached at device "
                    f"index '{device_index}'."
                )
            most = self.limits.max_interfaces_per_instance
            if len(held) >= most:
                raise AttachmentLimitExceeded(
                    f"Interface count {len(held) + 1} exceeds the limit for "
                    f"{instance.instance_type} ({most})"
                )
            attached = replace(
                interface,
                instance_id=instance_id,
                attachment_id=new_id("eni-attach"),
                device_index=device_index,
                delete_on_termination=delete_on_termination,
                attached_at=self.clock(),
            )
            # The instance replaced as read: a concurrent attachment to it moves on and retries.
            if not await self.store.change(attached, replace=[instance]):
                continue
            stored = replace(attached, revision=attached.revision + 1)
            if instance.state is InstanceState.RUNNING and instance.host in self.drivers:
                spec = await self._interface_spec(instance, stored)
                try:
                    await self._on_host(
                        "attach the interface",
                        self.drivers[instance.host].attach_interface(instance_id, spec),
                    )
                except Exception:
                    # Not attached after all: the interface is available again.
                    await self.store.replace(_detached(stored))
                    raise
            # Its address is a member of its groups now: rules naming them change; the other
            # hosts of its subnet route its addresses to its instance's; routes to it are
            # active again (decision 0161's addendum).
            self._push_later(tenant_id, stored.group_ids, vpc_ids=(stored.vpc_id,))
            self._spawn(self._push_peers(stored.subnet_id))
            return stored
        raise IncorrectState(f"{instance_id} changed concurrently; retry")

    async def launch_primary_interface(
        self, tenant_id: str, request: RunRequest
    ) -> tuple[Subnet, NetworkInterface] | None:
        """RunInstances' existing interface at device index 0 (decision 0161's addendum), with
        its subnet: the tenant's own, available, one instance only, no subnet beside it."""
        interface_id = request.primary_interface_id
        if interface_id is None:
            return None
        interface = await self._interface(tenant_id, interface_id)
        if request.max_count != 1:
            raise InvalidParameterValue(
                "An existing network interface can be the primary of one instance only"
            )
        if interface.instance_id:
            raise ResourceInUse("eni", f"Network interface '{interface_id}' is currently in use.")
        if interface.elastic_ip is not None:
            # The primary's address is its instance's record's; moving it is not done here.
            raise Unsupported(
                f"Disassociate the Elastic IP of '{interface_id}' before making it a primary"
            )
        subnet = await self._owned(Subnet, tenant_id, interface.subnet_id, "subnet")
        return subnet, interface

    async def insert_with_interface(
        self,
        subnet: Subnet,
        instances: Sequence[Instance],
        volumes: Sequence[Record],
        interface: NetworkInterface,
        request: RunRequest,
    ) -> list[Instance]:
        """Insert the launch's records with ``interface`` attached as its primary, in one
        change at the interface's and the subnet's revisions: another launch or attachment
        taking it first fails this one."""
        [instance] = instances
        placed = replace(
            instance,
            network_interface_id=interface.interface_id,
            private_ip=interface.private_ip,
            mac=interface.mac,
        )
        attached = replace(
            interface,
            instance_id=instance.instance_id,
            attachment_id=new_id("eni-attach"),
            device_index=0,
            delete_on_termination=request.primary_delete_on_termination,
            attached_at=self.clock(),
        )
        if not await self.store.change(subnet, insert=[*volumes, placed], replace=[attached]):
            raise IncorrectState(f"{interface.interface_id} changed concurrently; retry")
        return [placed]

    async def check_launch_interfaces(
        self, tenant_id: str, further: Sequence[FurtherInterface], count: int
    ) -> None:
        """RunInstances' further interfaces, checked before anything is launched: an existing
        one is the tenant's, available, for one instance; the instance's limit holds."""
        most = self.limits.max_interfaces_per_instance
        if 1 + len(further) > most:
            raise AttachmentLimitExceeded(
                f"Interface count {1 + len(further)} exceeds the limit ({most})"
            )
        for wanted in further:
            if wanted.interface_id is None:
                continue
            if count > 1:
                raise InvalidParameterValue(
                    "An existing network interface may be attached to one instance only: "
                    "MaxCount must be 1"
                )
            interface = await self._interface(tenant_id, wanted.interface_id)
            if interface.instance_id:
                raise ResourceInUse("eni", f"Interface: [{wanted.interface_id}] in use.")

    async def attach_launch_interfaces(
        self, tenant_id: str, instances: Sequence[Instance], further: Sequence[FurtherInterface]
    ) -> None:
        """After RunInstances recorded ``instances``: each gets the further interfaces, made
        in its subnet (or the one named) or the existing one, at their device indexes."""
        for instance in instances:
            for wanted in further:
                interface_id = wanted.interface_id
                if interface_id is None:
                    request = wanted.request or InterfaceRequest(subnet_id="")
                    subnet_id = request.subnet_id or instance.subnet_id or ""
                    made = await self.create_network_interface(
                        tenant_id, replace(request, subnet_id=subnet_id)
                    )
                    interface_id = made.interface_id
                await self.attach_network_interface(
                    tenant_id,
                    interface_id,
                    instance.instance_id,
                    wanted.device_index,
                    delete_on_termination=wanted.delete_on_termination,
                    launching=True,
                )

    async def detach_network_interface(
        self, tenant_id: str, attachment_id: str, *, force: bool = False
    ) -> NetworkInterface:
        """Detach the interface holding ``attachment_id``: off its host first (the guest lets
        go of it), then free; ``force``: even from a guest that does not let go in time."""
        check_id(attachment_id, "eni-attach")
        for _ in range(_ATTEMPTS):
            interface = next(
                (
                    i
                    for i in await self.store.list(NetworkInterface, tenant_id)
                    if i.attachment == attachment_id
                ),
                None,
            )
            if interface is None:
                raise NotFound("eni-attach", attachment_id)
            if interface.device_index == 0:
                raise OperationNotPermitted(
                    "The network interface at device index 0 cannot be detached."
                )
            instance = await self.store.get(Instance, interface.instance_id)
            if instance is not None and instance.state not in _ATTACHABLE:
                raise IncorrectInstanceState(
                    instance.instance_id, instance.state.value, "detach from"
                )
            if instance is not None and instance.host in self.drivers:
                # Off the host first (the guest lets go of it): then it is free.
                await self._on_host(
                    "detach the interface",
                    self.drivers[instance.host].detach_interface(
                        instance.instance_id, interface.interface_id, force=force
                    ),
                )
            detached = _detached(interface)
            if await self.store.replace(detached):
                # Routes to it are blackholes now (decision 0161's addendum).
                self._push_later(tenant_id, interface.group_ids, vpc_ids=(interface.vpc_id,))
                self._spawn(self._push_peers(interface.subnet_id))
                return replace(detached, revision=detached.revision + 1)
        raise IncorrectState(f"{attachment_id} changed concurrently; retry")

    # -- attributes --------------------------------------------------------------------------

    async def network_interface(self, tenant_id: str, interface_id: str) -> NetworkInterface:
        """DescribeNetworkInterfaceAttribute's interface: the tenant's, any kind."""
        check_id(interface_id, "eni")
        return await self._owned(NetworkInterface, tenant_id, interface_id, "eni")

    async def modify_network_interface(
        self,
        tenant_id: str,
        interface_id: str,
        *,
        description: str | None = None,
        group_ids: Sequence[str] | None = None,
        source_dest_check: bool | None = None,
        attachment: tuple[str, bool] | None = None,
    ) -> None:
        """ModifyNetworkInterfaceAttribute. A primary interface's groups are its instance's:
        they change as ModifyInstanceAttribute's ``GroupId`` does. ``attachment``: the
        attachment's id and whether terminating the instance deletes the interface."""
        if (description, group_ids, source_dest_check, attachment) == (None, None, None, None):
            raise MissingParameter("No attribute to modify was given")
        if description is not None and len(description) > NAME_MAX:
            raise InvalidParameterValue(f"The description is longer than {NAME_MAX} characters")
        for _ in range(_ATTEMPTS):
            interface = await self._interface(tenant_id, interface_id)
            changes: dict[str, object] = {}
            if description is not None:
                changes["description"] = description
            if source_dest_check is not None:
                changes["source_dest_check"] = source_dest_check
            if attachment is not None:
                if not interface.instance_id or attachment[0] != interface.attachment:
                    raise NotFound("eni-attach", attachment[0])
                changes["delete_on_termination"] = attachment[1]
            if group_ids is not None and interface.device_index == 0 and interface.instance_id:
                await self.set_security_groups(tenant_id, interface.instance_id, group_ids)
            elif group_ids is not None:
                wanted = tuple(dict.fromkeys(group_ids))
                if not 1 <= len(wanted) <= MAX_GROUPS_PER_INSTANCE:
                    raise InvalidParameterValue(
                        f"An interface has 1 to {MAX_GROUPS_PER_INSTANCE} security groups"
                    )
                await self.check_groups_in(
                    tenant_id, interface.vpc_id, wanted, f"interface {interface_id}"
                )
                changes["group_ids"] = wanted
            if not changes:
                return
            changed = replace(interface, **changes)  # type: ignore[arg-type]
            if await self.store.replace(changed):
                if "group_ids" in changes or "source_dest_check" in changes:
                    await self._push_addresses(replace(changed, revision=changed.revision + 1))
                if "group_ids" in changes:
                    if interface.instance_id:  # its address left some groups, joined others
                        self._push_later(tenant_id, {*interface.group_ids, *changed.group_ids})
                return
        raise IncorrectState(f"{interface_id} changed concurrently; retry")

    async def reset_source_dest_check(self, tenant_id: str, interface_id: str) -> None:
        await self.modify_network_interface(tenant_id, interface_id, source_dest_check=True)

    # -- secondary addresses -----------------------------------------------------------------

    async def assign_private_ips(
        self,
        tenant_id: str,
        interface_id: str,
        addresses: Sequence[str],
        count: int,
        *,
        allow_reassignment: bool = False,
    ) -> tuple[str, ...]:
        """Give the interface ``addresses``, or ``count`` of the lowest free: the addresses
        assigned. With ``allow_reassignment`` an address another of the tenant's interfaces
        holds as a secondary moves here, as on EC2."""
        if not addresses and count <= 0:
            raise MissingParameter(
                "Either PrivateIpAddress or SecondaryPrivateIpAddressCount must be specified"
            )
        if addresses and count:
            raise InvalidParameterValue(
                "PrivateIpAddress and SecondaryPrivateIpAddressCount are exclusive"
            )
        wanted = list(dict.fromkeys(addresses))
        for _ in range(_ATTEMPTS):
            interface = await self._interface(tenant_id, interface_id)
            subnet = await self._owned(Subnet, tenant_id, interface.subnet_id, "subnet")
            for address in wanted:
                self._check_in_subnet(subnet, address)
            self._check_address_count(len(interface.addresses) + (len(wanted) or count))
            mine = set(interface.addresses)
            fresh = [a for a in wanted if a not in mine]
            moved: list[Record] = []
            taken = await self._taken_addresses(subnet)
            for address in fresh:
                if address not in taken:
                    continue
                held = await self.store.get(
                    PrivateAddress, private_address_id(subnet.subnet_id, address)
                )
                if not allow_reassignment or held is None or held.tenant_id != tenant_id:
                    raise ResourceInUse("private-ip", f"Address {address} is in use.")
                other = await self.store.get(NetworkInterface, held.interface_id)
                if other is not None:
                    moved.append(
                        replace(
                            other,
                            secondary_ips=tuple(a for a in other.secondary_ips if a != address),
                        )
                    )
                moved.append(replace(held, interface_id=interface_id))
            new = fresh if wanted else free_addresses(subnet.cidr, taken, count)
            if len(new) < count:
                raise NetworkLimitExceeded(
                    "private-ip-capacity",
                    f"There are not enough free addresses in subnet '{subnet.subnet_id}'",
                )
            moved_ips = {r.private_ip for r in moved if isinstance(r, PrivateAddress)}
            inserted = [
                r for r in _address_records(interface, new) if r.private_ip not in moved_ips
            ]
            changed = replace(interface, secondary_ips=(*interface.secondary_ips, *new))
            try:
                if await self.store.change(changed, insert=inserted, replace=moved):
                    await self._push_addresses(replace(changed, revision=changed.revision + 1))
                    for loser in moved:
                        if isinstance(loser, NetworkInterface):  # it lost one
                            await self._push_addresses(replace(loser, revision=loser.revision + 1))
                    return tuple(new)
            except Duplicate:
                if wanted:
                    raise ResourceInUse("private-ip", "A requested address is in use.") from None
        raise IncorrectState(f"{interface_id} changed concurrently; retry")

    async def unassign_private_ips(
        self, tenant_id: str, interface_id: str, addresses: Sequence[str]
    ) -> None:
        if not addresses:
            raise MissingParameter("The request must contain the parameter PrivateIpAddress")
        for _ in range(_ATTEMPTS):
            interface = await self._interface(tenant_id, interface_id)
            gone = set(addresses)
            if not gone <= set(interface.secondary_ips):
                raise InvalidParameterValue(
                    f"Some of the specified addresses are not assigned to interface {interface_id}"
                )
            kept = tuple(a for a in interface.secondary_ips if a not in gone)
            records = _address_records(interface, sorted(gone))
            changed = replace(interface, secondary_ips=kept)
            # An Elastic IP translated to an address let go is disassociated, as on EC2.
            ref = interface.elastic_ip
            held = await self.store.get(ElasticAddress, ref.allocation_id) if ref else None
            freed = (
                await self._elastic_let_go(interface)
                if held is not None and held.private_ip in gone
                else []
            )
            if freed:
                changed = replace(changed, elastic_ip=None)
            if await self.store.change(
                changed, delete=[(PrivateAddress, r.address_id) for r in records], replace=freed
            ):
                await self._push_addresses(replace(changed, revision=changed.revision + 1))
                return
        raise IncorrectState(f"{interface_id} changed concurrently; retry")

    # -- termination -------------------------------------------------------------------------

    async def _release_interface(self, instance: Instance) -> None:
        """At termination: every interface of the instance that terminating deletes goes, with
        its secondary addresses (the primary, unless told otherwise); the others are
        detached, available again."""
        held = await self.interfaces_of(instance)
        # Their addresses leave their groups: rules naming those change.
        self._push_later(instance.tenant_id, {g for i in held for g in i.group_ids})
        for _ in range(_ATTEMPTS):
            pending = False
            for interface in await self.interfaces_of(instance):
                if interface.delete_on_termination:
                    gone: list[tuple[type[Record], str]] = [
                        (NetworkInterface, interface.interface_id)
                    ]
                    gone += [(PrivateAddress, a.address_id) for a in _address_records(interface)]
                    gone += [(Ipv6Address, a) for a in interface.ipv6_addresses]
                    done = await self.store.change(
                        interface, delete=gone, replace=await self._elastic_let_go(interface)
                    )
                else:
                    done = await self.store.replace(_detached(interface))
                pending = pending or not done
            if not pending:
                return
        log.warning("instance %s: its interfaces changed while it terminated", instance.instance_id)

    # -- helpers -----------------------------------------------------------------------------

    async def _elastic_let_go(self, interface: NetworkInterface) -> list[ElasticAddress]:
        """The Elastic IP of an interface deleted, associated with nothing now (it stays the
        tenant's, as on EC2)."""
        ref = interface.elastic_ip
        address = await self.store.get(ElasticAddress, ref.allocation_id) if ref else None
        if ref is None or address is None or address.association_id != ref.association_id:
            return []
        return [
            replace(
                address, association_id=None, instance_id=None, network_interface_id=None,
                private_ip=None,
            )
        ]  # fmt: skip

    async def _interface(self, tenant_id: str, interface_id: str) -> NetworkInterface:
        """The tenant's interface of its own (a NAT gateway's is not the tenant's to change)."""
        check_id(interface_id, "eni")
        interface = await self._owned(NetworkInterface, tenant_id, interface_id, "eni")
        if interface.interface_type != "interface":
            raise ManagedResource()
        return interface

    async def _interface_groups(
        self, tenant_id: str, subnet: Subnet, group_ids: Sequence[str]
    ) -> tuple[str, ...]:
        wanted = tuple(dict.fromkeys(group_ids))
        if len(wanted) > MAX_GROUPS_PER_INSTANCE:
            raise InvalidParameterValue(
                f"An interface has at most {MAX_GROUPS_PER_INSTANCE} security groups"
            )
        if wanted:
            await self.check_groups_in(
                tenant_id, subnet.vpc_id, wanted, f"subnet {subnet.subnet_id}"
            )
            return wanted
        for group in await self.store.list(SecurityGroup, tenant_id):
            if group.name == DEFAULT_GROUP_NAME and await self.vpc_of_group(group) == subnet.vpc_id:
                return (group.group_id,)
        return ()

    async def _taken_addresses(self, subnet: Subnet) -> set[str]:
        """The subnet's addresses held as an interface's primary or secondary address."""
        taken = {
            i.private_ip
            for i in await self.store.list(NetworkInterface, subnet.tenant_id)
            if i.subnet_id == subnet.subnet_id
        }
        taken |= {
            a.private_ip
            for a in await self.store.list(PrivateAddress, subnet.tenant_id)
            if a.subnet_id == subnet.subnet_id
        }
        return taken

    def _check_address_count(self, total: int) -> None:
        most = self.limits.max_private_ips_per_interface
        if total > most:
            raise NetworkLimitExceeded(
                "private-ip",
                f"Number of private addresses will exceed the limit of {most} for the interface",
            )

    @staticmethod
    def _check_in_subnet(subnet: Subnet, address: str) -> None:
        try:
            value = ipaddress.IPv4Address(address)
        except ValueError:
            raise InvalidParameterValue(f"Invalid private IP address '{address[:64]}'") from None
        usable = usable_addresses(subnet.cidr)
        first = ipaddress.IPv4Address(next(usable, "255.255.255.255"))
        last = ipaddress.IPv4Network(subnet.cidr).broadcast_address - 1
        if not first <= value <= last:
            raise InvalidParameterValue(
                f"Address {address} does not fall within the subnet's address range"
            )


def _address_records(
    interface: NetworkInterface, addresses: Sequence[str] | None = None
) -> list[PrivateAddress]:
    """The records holding ``addresses`` (the interface's secondaries when None) for it."""
    chosen = interface.secondary_ips if addresses is None else addresses
    return [
        PrivateAddress(
            private_address_id(interface.subnet_id, address),
            interface.tenant_id,
            interface.subnet_id,
            address,
            interface.interface_id,
        )
        for address in chosen
    ]


def _detached(interface: NetworkInterface) -> NetworkInterface:
    return replace(
        interface,
        instance_id="",
        attachment_id="",
        device_index=0,
        delete_on_termination=True,
        attached_at=None,
    )
