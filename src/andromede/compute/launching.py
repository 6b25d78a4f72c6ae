"""RunInstances: the compute service's launch path, a mixin of
:class:`~andromede.compute.service.ComputeService`.

A launch is checked (image, key pair, profile, network, quota and placement under one lock per
process) and written in one transaction — MinCount instances or none —, answered ``pending``,
and carried out on the host in a background task: volumes made (blank, from a snapshot or the
image), the seed built, the guest started, the state recorded (``running``, or ``terminated``
with EC2's reason). What the lifecycle calls share with it (applying an event to an instance,
terminating on the host, the instance's network interface) lives here too.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from andromede.compute.access import AccessMixin
from andromede.compute.copies import CopiesMixin
from andromede.compute.cpu_options import CpuOptionsRequest, check_cpu_options, instance_cpu
from andromede.compute.dhcp_options_sets import DhcpOptionsMixin
from andromede.compute.driver import (
    AttachedVolume,
    ImageBacking,
    InstanceNetwork,
    InstanceSpec,
    PortForward,
    SnapshotBacking,
    VolumeSpec,
)
from andromede.compute.driver_network import (
    InstanceFirewall,
)
from andromede.compute.elastic_ips import ElasticIpsMixin
from andromede.compute.errors import (
    ComputeError,
    Duplicate,
    IdempotentParameterMismatch,
    IncorrectInstanceState,
    IncorrectState,
    InstanceLimitExceeded,
    InsufficientCapacity,
    InvalidBlockDeviceMapping,
    InvalidParameterValue,
    KeyAccessDenied,
    KeyUnusable,
    NotFound,
)
from andromede.compute.flow_logs import FlowLogsMixin
from andromede.compute.image_creation import ImageCreationMixin
from andromede.compute.image_library import ImagesMixin
from andromede.compute.image_permissions import ImagePermissionsMixin
from andromede.compute.instance_attributes import InstanceAttributesMixin
from andromede.compute.instance_options import (
    InstanceOptionsMixin,
    check_metadata_options,
    check_shutdown_behavior,
)
from andromede.compute.interface_endpoints import InterfaceEndpointsMixin
from andromede.compute.ipv6_routes import Ipv6RoutesMixin
from andromede.compute.launch_request import (
    ROOT_DEVICE,
    LaunchVolume,
    RunRequest,
    image_devices_taken,
    launch_volume_size,
    root_mapping_taken,
    run_request_digest,
)
from andromede.compute.launch_templates import LaunchTemplatesMixin
from andromede.compute.model import (
    Attachment,
    Event,
    Image,
    ImageState,
    Instance,
    InstanceState,
    KeyPair,
    Snapshot,
    Volume,
    VolumeState,
    check_client_token,
    check_id,
    check_tags,
    new_id,
    next_state,
    token_id,
)
from andromede.compute.monitoring import MonitoringMixin
from andromede.compute.nat_gateways import NatGatewaysMixin
from andromede.compute.network_acls import NetworkAclsMixin
from andromede.compute.network_interfaces import NetworkInterfacesMixin
from andromede.compute.networks import NetworksMixin, with_wiring
from andromede.compute.prefix_lists import PrefixListsMixin
from andromede.compute.public_names import PublicNamesMixin
from andromede.compute.scheduler import free_room, in_storage_domain, place
from andromede.compute.security_group_rules import SecurityGroupRulesMixin
from andromede.compute.seed import build_seed
from andromede.compute.spot import spot_launched
from andromede.compute.spot_market import SpotMarketMixin
from andromede.compute.tags import TagsMixin
from andromede.compute.volume_modifications import VolumeModificationsMixin
from andromede.compute.volumes import MAX_VOLUME_GIB, VolumesMixin, key_kept
from andromede.compute.vpc_ipv6 import Ipv6Mixin
from andromede.compute.vpc_peerings import VpcPeeringsMixin

__all__ = ["LaunchingMixin"]

log = logging.getLogger(__name__)

_LAUNCH_FAILED = "Server.InternalError: Internal error on launch"
# A volume's KMS key disabled, pending deletion or deleted: EC2's reason, word for word.
_KEY_UNUSABLE = "Client.InvalidKMSKey.InvalidState: The KMS key provided is in an incorrect state"
# The launching account may not use the KMS key of a shared image's snapshot: EC2's reason.
_KEY_REFUSED = "Client.InternalError: Client error on launch"
SSH_PORT = 22


class LaunchingMixin(
    ImageCreationMixin,
    ImagePermissionsMixin,
    CopiesMixin,
    VolumesMixin,
    VolumeModificationsMixin,
    ImagesMixin,
    SecurityGroupRulesMixin,
    PrefixListsMixin,
    FlowLogsMixin,
    AccessMixin,
    TagsMixin,
    Ipv6Mixin,
    Ipv6RoutesMixin,
    InterfaceEndpointsMixin,
    NetworkInterfacesMixin,
    # Before the interfaces' hosts it pushes to (an Elastic IP on an interface, 0161's addendum).
    ElasticIpsMixin,
    InstanceAttributesMixin,
    InstanceOptionsMixin,
    MonitoringMixin,
    PublicNamesMixin,
    NatGatewaysMixin,
    VpcPeeringsMixin,
    NetworkAclsMixin,
    DhcpOptionsMixin,
    NetworksMixin,
    LaunchTemplatesMixin,
    SpotMarketMixin,
):
    """RunInstances and the steps the lifecycle shares with it, over the other mixins."""

    # -- RunInstances ----------------------------------------------------------------------

    async def run_instances(self, tenant_id: str, request: RunRequest) -> list[Instance]:
        """Launch a reservation; with a client token, at most once per account and token.

        The instances of a tokened request get ids derived from the account and the token
        (:func:`token_id`): the same request arriving twice at once (on two workers or
        gateways: a retry that overtook a slow first attempt) writes the same rows, of which
        the database keeps one reservation, and the loser answers with it."""
        token = request.client_token
        if token is None:
            return await self._run_instances(tenant_id, request)
        check_client_token(token)
        earlier = await self._reservation_of(tenant_id, request)
        if earlier is not None:
            return earlier
        try:
            return await self._run_instances(tenant_id, request)
        except Duplicate as exc:
            if (
                exc.kind != "i"
                or (earlier := await self._reservation_of(tenant_id, request)) is None
            ):
                raise
            return earlier

    async def _reservation_of(self, tenant_id: str, request: RunRequest) -> list[Instance] | None:
        """The instances an earlier request with this client token launched (None: none);
        IdempotentParameterMismatch when that request asked for something else."""
        token = request.client_token or ""
        found = []
        for index in range(request.max_count):
            instance = await self.store.get(Instance, token_id("i", tenant_id, token, str(index)))
            if instance is not None and instance.tenant_id == tenant_id:
                found.append(instance)
        if not found:
            return None
        if any(i.request_digest != run_request_digest(request) for i in found):
            raise IdempotentParameterMismatch(
                f"The client token '{token[:64]}' was already used for another request"
            )
        return found

    async def _run_instances(self, tenant_id: str, asked: RunRequest) -> list[Instance]:
        token = asked.client_token
        image = await self._usable_image(tenant_id, asked.image_id)
        request = image_devices_taken(root_mapping_taken(asked, image), image)
        itype = self.instance_type(request.instance_type)
        asked_cpu = request.cpu_options or CpuOptionsRequest()
        cpu_options = check_cpu_options(itype.name, itype.vcpus, asked_cpu)  # decision 0214
        check_shutdown_behavior(request.shutdown_behavior)
        check_metadata_options(request.metadata_options)
        user_data = self._user_data(request.user_data_base64)
        key_pair = (
            await self._key_pair_named(tenant_id, request.key_name)
            if request.key_name is not None
            else None
        )
        adopted = await self.launch_primary_interface(tenant_id, request)
        subnet = (
            adopted[0] if adopted else await self.subnet_for_launch(tenant_id, request.subnet_id)
        )
        await self.check_groups_in(
            tenant_id, subnet.vpc_id, request.security_group_ids, f"subnet {subnet.subnet_id}"
        )
        # EC2 puts an instance launched with no group in its VPC's default group; one made
        # with an existing interface takes the interface's (decision 0161's addendum).
        group_ids = (
            request.security_group_ids
            or (adopted[1].group_ids if adopted else ())
            or ((await self.default_group_of(tenant_id, subnet.vpc_id)).group_id,)
        )
        if request.availability_zone not in (None, self.limits.availability_zone):
            raise InvalidParameterValue(f"Invalid availability zone: [{request.availability_zone}]")
        if not 1 <= request.min_count <= request.max_count:
            raise InvalidParameterValue("MinCount must be at least 1 and at most MaxCount")
        check_tags(request.instance_tags)
        check_tags(request.volume_tags)
        root_size = self._root_size(request, image, itype.root_disk_gib)
        launch_snapshots = await self._launch_volume_snapshots(tenant_id, request, image)
        async with self._placement:
            everyone = await self.store.list(Instance, None)
            live = [i for i in everyone if i.state is not InstanceState.TERMINATED]
            mine = [i for i in live if i.tenant_id == tenant_id]
            room_in_quota = min(
                self.limits.max_instances_per_tenant - len(mine),
                (self.limits.max_vcpus_per_tenant - sum(i.vcpus for i in mine)) // itype.vcpus,
            )
            if room_in_quota < request.min_count:
                raise InstanceLimitExceeded(
                    f"Your quota allows for {max(room_in_quota, 0)} more running instance(s). "
                    f"You requested at least {request.min_count}"
                )
            capacities = await self._answering_capacities()
            # The root volumes' KMS key: the one asked for, else the image snapshot's (a copy
            # of a snapshot stays under its key unless another is named, as on EBS), when the
            # snapshot is the tenant's: a shared image's is re-encrypted under the tenant's.
            root_key_ref = request.root_kms_key_id
            if image.snapshot_id is not None:
                # The root volume is a copy of the image's snapshot: only the hosts that open
                # the snapshot (its storage domain) can make it.
                snapshot = await self._snapshot_record(image.snapshot_id)
                capacities = in_storage_domain(capacities, snapshot.storage_domain or snapshot.host)
                root_key_ref = root_key_ref or key_kept(tenant_id, snapshot)
            for snapshot in launch_snapshots.values():
                # Likewise for the further volumes copied from snapshots.
                capacities = in_storage_domain(capacities, snapshot.storage_domain or snapshot.host)
            await self.admit_spot(tenant_id, request, itype)  # decision 0202
            count = min(request.max_count, room_in_quota)
            hosts = place(free_room(capacities, live), itype.vcpus, itype.memory_mib, count)
            if len(hosts) < request.min_count and request.spot is None:
                # An on-demand launch takes Spot Instances' capacity back (decision 0202).
                hosts = await self.reclaim_spot(capacities, live, itype, request.min_count, count)
            if len(hosts) < request.min_count:
                raise InsufficientCapacity(
                    f"We currently do not have sufficient {itype.name} capacity in the "
                    f"Availability Zone you requested ({self.limits.availability_zone})."
                )
            reservation_id = token_id("r", tenant_id, token) if token else new_id("r")
            digest = run_request_digest(asked) if token else ""
            now = self.clock()
            instances: list[Instance] = []
            volumes: list[Volume] = []
            further: dict[str, list[Volume]] = {}  # by instance: the mappings' volumes
            for index, host in enumerate(hosts):
                instance_id = token_id("i", tenant_id, token, str(index)) if token else new_id("i")
                volume_id = new_id("vol")
                root_key_arn = (
                    await self.disk_keys.customer_key(
                        request.caller, tenant_id, root_key_ref, volume_id
                    )
                    if root_key_ref
                    else None
                )
                _, wrapped = await self.disk_keys.new_key(
                    tenant_id, kms_key_arn=root_key_arn, resource_id=volume_id
                )
                volume = Volume(
                    volume_id=volume_id,
                    tenant_id=tenant_id,
                    size_gib=root_size,
                    availability_zone=self.limits.availability_zone,
                    state=VolumeState.IN_USE,
                    host=host,
                    created_at=now,
                    wrapped_key=wrapped,
                    image_id=image.image_id,
                    attachment=Attachment(
                        instance_id, ROOT_DEVICE, now, request.root_delete_on_termination
                    ),
                    tags=request.volume_tags,
                    kms_key_arn=root_key_arn,
                )
                volumes.append(volume)
                further[instance_id] = [
                    await self._launch_volume(
                        request, tenant_id, instance_id, host, now, mapping, launch_snapshots
                    )
                    for mapping in request.data_volumes
                ]
                instances.append(
                    Instance(
                        instance_id=instance_id,
                        tenant_id=tenant_id,
                        reservation_id=reservation_id,
                        image_id=image.image_id,
                        instance_type=itype.name,
                        state=InstanceState.PENDING,
                        host=host,
                        launch_time=now,
                        root_volume_id=volume.volume_id,
                        availability_zone=self.limits.availability_zone,
                        vcpus=itype.vcpus,
                        memory_mib=itype.memory_mib,
                        launch_index=index,
                        key_name=key_pair.name if key_pair else None,
                        security_group_ids=group_ids,
                        user_data=user_data,
                        tags=request.instance_tags,
                        vpc_id=subnet.vpc_id,
                        subnet_id=subnet.subnet_id,
                        associate_public_ip=(
                            subnet.maps_public_ip
                            if request.associate_public_ip is None
                            else request.associate_public_ip
                        ),
                        iam_instance_profile=(
                            replace(profile, association_id=new_id("iip-assoc"))
                            if (profile := request.iam_instance_profile) is not None
                            else None
                        ),
                        client_token=token,
                        request_digest=digest,
                        disable_api_termination=request.disable_api_termination,
                        disable_api_stop=request.disable_api_stop,
                        shutdown_behavior=request.shutdown_behavior,
                        metadata_options=request.metadata_options,
                        monitoring=request.monitoring,
                        cpu_options=cpu_options,
                        launch_template_id=request.launch_template_id,
                        launch_template_version=request.launch_template_version,
                        autoscaling_group=request.autoscaling_group,
                    )
                )
            instances, spot_requests = spot_launched(tenant_id, request, instances, now)
            made = [v for instance in instances for v in further[instance.instance_id]]
            if adopted:
                instances = await self.insert_with_interface(
                    subnet, instances, [*volumes, *made, *spot_requests], adopted[1], request
                )
            else:
                instances = await self.insert_with_addresses(
                    subnet,
                    instances,
                    volumes,
                    [*made, *spot_requests],
                    request.ipv6_address_count,
                    request.ipv6_addresses,
                )
        self._push_later(tenant_id, group_ids)
        for instance, volume in zip(instances, volumes, strict=True):
            self._spawn(
                self._launch(
                    instance,
                    volume,
                    image,
                    key_pair,
                    create=True,
                    new_volumes=further[instance.instance_id],
                    caller=request.caller,
                )
            )
        return instances

    async def _launch_volume_snapshots(
        self, tenant_id: str, request: RunRequest, image: Image
    ) -> dict[str, Snapshot]:
        """Check the further volumes the block device mappings ask for, as EC2 does; the
        snapshots they copy, by id."""
        if 1 + len(request.data_volumes) > self.limits.max_volumes_per_instance:
            raise InvalidBlockDeviceMapping(
                f"An instance here takes at most {self.limits.max_volumes_per_instance} volumes, "
                "its root volume included"
            )
        root_names = {ROOT_DEVICE, image.root_device_name, request.root_device_name}
        seen: set[str] = set()
        # The image's own snapshots are read whoever launches it (an image shared with the
        # tenant is another's, its snapshots too); any other must be the tenant's.
        snapshots = {
            s: await self._snapshot_record(s)
            for d in image.block_devices
            if (s := d.snapshot_id) is not None
        }
        for mapping in request.data_volumes:
            device = mapping.device
            if not device.startswith("/dev/") or len(device) > 32:
                raise InvalidParameterValue(f"Invalid device name {device[:32]}")
            if device in root_names:
                raise InvalidBlockDeviceMapping(
                    f"The device {device} is the root device's; map it once, with its size"
                )
            if device in seen:
                raise InvalidBlockDeviceMapping(f"The device {device} is mapped more than once")
            seen.add(device)
            snapshot = None
            if mapping.snapshot_id is not None:
                snapshot = snapshots.get(mapping.snapshot_id) or await self._owned(
                    Snapshot, tenant_id, mapping.snapshot_id, "snap"
                )
                if snapshot.state != "completed":
                    raise IncorrectState(f"Snapshot '{snapshot.snapshot_id}' is not completed")
                snapshots[snapshot.snapshot_id] = snapshot
            launch_volume_size(mapping, snapshot)
        return snapshots

    async def _launch_volume(
        self,
        request: RunRequest,
        tenant_id: str,
        instance_id: str,
        host: str,
        now: datetime,
        mapping: LaunchVolume,
        snapshots: Mapping[str, Snapshot],
    ) -> Volume:
        """The record of a mapping's volume, attached from the start (made on the host when
        the instance launches). Its key as CreateVolume chooses it: the mapping's KMS key, else
        its snapshot's (the tenant's own), else the tenant's."""
        volume_id = new_id("vol")
        snapshot = snapshots[mapping.snapshot_id] if mapping.snapshot_id else None
        key_ref = mapping.kms_key_id or key_kept(tenant_id, snapshot)
        key_arn = (
            await self.disk_keys.customer_key(request.caller, tenant_id, key_ref, volume_id)
            if key_ref
            else None
        )
        _, wrapped = await self.disk_keys.new_key(
            tenant_id, kms_key_arn=key_arn, resource_id=volume_id
        )
        return Volume(
            volume_id=volume_id,
            tenant_id=tenant_id,
            size_gib=launch_volume_size(mapping, snapshot),
            availability_zone=self.limits.availability_zone,
            state=VolumeState.IN_USE,
            host=host,
            created_at=now,
            wrapped_key=wrapped,
            snapshot_id=snapshot.snapshot_id if snapshot else None,
            attachment=Attachment(instance_id, mapping.device, now, mapping.delete_on_termination),
            tags=request.volume_tags,
            kms_key_arn=key_arn,
        )

    @staticmethod
    def _root_size(request: RunRequest, image: Image, type_default_gib: int) -> int:
        """The root volume's size: the mapping's, at least the image's; else the larger of
        the instance type's default and the image's."""
        if request.root_device_name not in (None, image.root_device_name, ROOT_DEVICE):
            raise InvalidParameterValue(
                f"Invalid device name {request.root_device_name[:32]}: a mapping here names the "
                f"image's root device, {image.root_device_name}"
            )
        asked = request.root_volume_size_gib
        if asked is None:
            return max(type_default_gib, image.virtual_size_gib)
        if not image.virtual_size_gib <= asked <= MAX_VOLUME_GIB:
            raise InvalidParameterValue(
                f"Volume of size {asked}GB is smaller than the image '{image.image_id}' or "
                f"larger than {MAX_VOLUME_GIB}GB; expect a size >= {image.virtual_size_gib}GB"
            )
        return asked

    async def _launch_volume_spec(self, volume: Volume, caller: object) -> VolumeSpec:
        """What the host makes for a mapping's volume: blank, or a copy of its snapshot."""
        key = bytes(await self.disk_keys.open_key(volume))
        if volume.snapshot_id is None:
            return VolumeSpec(volume.volume_id, volume.size_gib, key)
        snapshot = await self._snapshot_record(volume.snapshot_id)
        await self._may_read_shared(caller, volume.tenant_id, snapshot)
        backing = SnapshotBacking(
            snapshot.snapshot_id, bytes(await self.disk_keys.open_key(snapshot))
        )
        return VolumeSpec(volume.volume_id, volume.size_gib, key, backing)

    async def _delete_on_termination(self, volumes: Sequence[Volume]) -> None:
        for volume in volumes:
            current = await self.store.get(Volume, volume.volume_id)
            attachment = current.attachment if current is not None else None
            if current is not None and attachment is not None:
                if not attachment.delete_on_termination:
                    kept = replace(attachment, delete_on_termination=True)
                    await self._update(current, attachment=kept)

    def _user_data(self, encoded: str | None) -> bytes:
        if not encoded:
            return b""
        try:
            raw = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidParameterValue("Invalid BASE64 encoding of user data.") from None
        if len(raw) > self.limits.max_user_data_size:
            raise InvalidParameterValue(
                f"User data is limited to {self.limits.max_user_data_size} bytes"
            )
        return raw

    async def _usable_image(self, tenant_id: str, image_id: str) -> Image:
        check_id(image_id, "ami")
        image = await self.store.get(Image, image_id)
        if (
            image is None
            or not image.visible_to(tenant_id)
            or image.state is not ImageState.AVAILABLE
        ):
            raise NotFound("ami", image_id)
        return image

    async def _key_pair_named(self, tenant_id: str, name: str) -> KeyPair:
        for key_pair in await self.store.key_pairs_named(tenant_id, name):
            return key_pair
        raise NotFound("keyname", name)

    # -- the work on the host ----------------------------------------------------------------

    async def _launch(
        self,
        instance: Instance,
        root: Volume,
        image: Image | None,
        key_pair: KeyPair | None,
        *,
        create: bool,
        new_volumes: Sequence[Volume] = (),
        caller: object = None,
    ) -> None:
        """Start ``instance`` on its host; ``create``: its first start, which makes its root
        volume and the further volumes its mappings asked for (``new_volumes``), reading a
        shared image's snapshots under their owner's KMS key as ``caller`` (RunInstances')."""
        driver = self.drivers.get(instance.host)
        try:
            if driver is None:
                raise ComputeError(f"host {instance.host} is not driven by this gateway")
            key = bytes(await self.disk_keys.open_key(root))
            if create and image is not None:
                await self._ensure_image_on(driver, image)
                await driver.create_volume(await self._root_spec(root, image, key, caller))
            for volume in new_volumes:
                await driver.create_volume(await self._launch_volume_spec(volume, caller))
            extra = [
                AttachedVolume(
                    v.volume_id,
                    v.attachment.device,
                    bytes(await self.disk_keys.open_key(v)),
                )
                for v in await self.store.list(Volume, instance.tenant_id)
                if v.attachment is not None
                and v.attachment.instance_id == instance.instance_id
                and v.volume_id != root.volume_id
            ]
            public_keys = [key_pair.public_key] if key_pair is not None else []
            if key_pair is None and instance.key_name is not None:
                found = await self.store.key_pairs_named(instance.tenant_id, instance.key_name)
                public_keys = [k.public_key for k in found]
            wired = await driver.start(
                InstanceSpec(
                    instance_id=instance.instance_id,
                    vcpus=(cpu := instance_cpu(instance)).vcpus,
                    threads_per_core=cpu.threads_per_core,
                    memory_mib=instance.memory_mib,
                    root=AttachedVolume(root.volume_id, ROOT_DEVICE, key),
                    seed=build_seed(instance, public_keys),
                    volumes=tuple(extra),
                    nic=await self._nic_of(instance),
                    # Where the host cannot bridge (user-mode networking), SSH is reached
                    # through a host port the driver picks — when it may be reached at all:
                    # a public address and a route to an internet gateway (decision 0121).
                    forwards=(
                        (PortForward(self.limits.forward_address, 0, SSH_PORT),)
                        if (await self.routing_view(instance.tenant_id)).internet_facing(instance)
                        else ()
                    ),
                    firewall=(firewall := await self.firewall_of(instance)),
                    interfaces=await self.interface_specs(instance),
                )
            )
        except Exception as exc:
            if isinstance(exc, KeyUnusable | KeyAccessDenied):
                # The customer's decision, not a fault: said as EC2 says it, no traceback.
                log.info("instance %s: not launched: %s", instance.instance_id, exc)
                reason = _KEY_UNUSABLE if isinstance(exc, KeyUnusable) else _KEY_REFUSED
            else:
                log.exception(
                    "instance %s: launch on %s failed", instance.instance_id, instance.host
                )
                reason = _LAUNCH_FAILED
            if create:
                changed = await self._apply(
                    instance.instance_id, Event.LAUNCH_FAILED, reason=reason, quiet=True
                )
                if changed is not None:
                    # Volumes of a launch that never ran hold nothing: they go, whatever
                    # DeleteOnTermination said (it keeps data the instance wrote).
                    await self._delete_on_termination((root, *new_volumes))
                    await self._terminate_on_host(changed)
            else:
                await self._apply(instance.instance_id, Event.STOPPED, reason=reason, quiet=True)
            return
        launched = await self._apply(instance.instance_id, Event.LAUNCHED, quiet=True, wired=wired)
        if launched is not None:
            await self._catch_up_firewall(launched, firewall)
            await self._push_peers(launched.subnet_id)  # a host may hold the subnet anew
            self._push_public_names_later(launched)  # its public address, named (0151)
            return
        # Terminated (or gone) while it was starting: the termination may have killed
        # nothing yet, so what this launch started must not outlive it.
        current = await self.store.get(Instance, instance.instance_id)
        if current is None or current.state in (
            InstanceState.SHUTTING_DOWN,
            InstanceState.TERMINATED,
        ):
            await driver.kill(instance.instance_id)
            if current is None or current.state is InstanceState.TERMINATED:
                await driver.release(instance.instance_id)

    async def _catch_up_firewall(self, instance: Instance, started_with: InstanceFirewall) -> None:
        """Pushes skip instances not yet running: a member that joined one of its groups
        while it was starting is added now."""
        current = await self.firewall_of(instance)
        if current != started_with:
            await self._set_firewall(instance, current)

    async def _root_spec(
        self, root: Volume, image: Image, key: bytes, caller: object
    ) -> VolumeSpec:
        if image.snapshot_id is not None:
            snapshot = await self._snapshot_record(image.snapshot_id)
            await self._may_read_shared(caller, root.tenant_id, snapshot)
            snapshot_key = bytes(await self.disk_keys.open_key(snapshot))
            backing: ImageBacking | SnapshotBacking = SnapshotBacking(
                image.snapshot_id, snapshot_key
            )
        else:
            backing = ImageBacking(image.image_id, image.disk_format, image.sha256)
        return VolumeSpec(root.volume_id, root.size_gib, key, backing)

    async def _apply(
        self,
        instance_id: str,
        event: Event,
        *,
        reason: str = "",
        quiet: bool = False,
        wired: InstanceNetwork | None = None,
        revision: int | None = None,
    ) -> Instance | None:
        """Record ``event`` on the instance (retrying on a concurrent change), with how its
        host ``wired`` it when given; returns the new record. ``quiet``: the host's reports,
        which lose to a tenant's later call (None). ``revision``: only on that revision of
        the record, else nothing (None)."""
        for _ in range(20):
            instance = await self.store.get(Instance, instance_id)
            if instance is None or revision not in (None, instance.revision):
                return None
            try:
                state = next_state(instance.state, event, instance_id)
            except IncorrectInstanceState:
                if quiet:
                    return None
                raise
            # A running instance has no transition reason (EC2 clears it); others keep theirs.
            kept = "" if state is InstanceState.RUNNING else instance.state_reason
            changed = replace(instance, state=state, state_reason=reason or kept)
            now = self.clock()
            if event is Event.START:
                changed = replace(changed, started_at=now)  # EC2's LaunchTime moves to it
            if instance.state is InstanceState.RUNNING and state is not InstanceState.RUNNING:
                # Kept with the state, so metering can end a run whose stop it missed here.
                changed = replace(changed, stopped_at=now)
            if wired is not None:
                changed = with_wiring(changed, wired)
            if state in (InstanceState.STOPPED, InstanceState.TERMINATED):
                # The host let go of its wiring: a stopped instance has no public address
                # (EC2 gives a new one at the next start); its private address stays.
                changed = replace(
                    changed, network_mode=None, public_ip=None, host_facing_ip=None, forwards=()
                )
            if state is InstanceState.TERMINATED:
                # Its interface is released with it (the address may go to another).
                changed = replace(
                    changed,
                    terminated_at=now,
                    network_interface_id=None,
                    private_ip=None,
                    mac=None,
                )
            if await self.store.replace(changed):
                if instance.state is InstanceState.PENDING and state is InstanceState.RUNNING:
                    # What RunInstances attached while it was pending (decision 0161).
                    self._spawn(self._push_interfaces(changed))
                if self.on_transition is not None and changed.state is not instance.state:
                    try:
                        await self.on_transition(instance, changed, now)
                    except Exception:
                        log.exception("instance %s: transition listener failed", instance_id)
                return replace(changed, revision=changed.revision + 1)
        raise ComputeError(f"instance {instance_id}: too many concurrent changes")

    async def _terminate_on_host(self, instance: Instance) -> None:
        """Kill, release, delete or detach the volumes, then record ``terminated``."""
        driver = self.drivers.get(instance.host)
        try:
            if driver is not None:
                await driver.kill(instance.instance_id)
                await driver.release(instance.instance_id)
            for volume in await self.store.list(Volume, instance.tenant_id):
                attachment = volume.attachment
                if attachment is None or attachment.instance_id != instance.instance_id:
                    continue
                if attachment.delete_on_termination:
                    if driver is not None:
                        await driver.delete_volume(volume.volume_id)
                    await self.store.delete(Volume, volume.volume_id)
                else:
                    await self._update(volume, attachment=None, state=VolumeState.AVAILABLE)
        except Exception:
            log.exception(
                "instance %s: termination on %s failed", instance.instance_id, instance.host
            )
            return  # stays shutting-down; reconcile retries at the next start
        if await self._apply(instance.instance_id, Event.TERMINATED, quiet=True) is not None:
            # Terminated: its address may go to another instance, and rules naming its
            # groups no longer stand for it; its Elastic IP stays the tenant's, unassociated.
            await self._let_go_of_address(instance.instance_id)
            await self._release_interface(instance)
            await self._push_firewalls(instance.tenant_id, instance.security_group_ids)
            await self._push_peers(instance.subnet_id)
            self._push_public_names_later(instance)
        await self._forget_unused_image(instance.image_id)
