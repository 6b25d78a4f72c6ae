"""What may change on an instance after launch: its security groups and whether its volumes
go with it (ModifyInstanceAttribute) and its IAM instance profile
(Associate/Disassociate/DescribeIamInstanceProfileAssociations).

A change of groups is recorded, then the firewall of the instance — and of every running
instance whose rules name a group it left or joined — is pushed to the hosts. A profile is
resolved and ``iam:PassRole`` checked by the caller (compute knows no IAM); the metadata service
reads the association at each request, so a new profile's credentials are served at the next
read and a removed one's no longer (those already handed out run to their expiry, as on EC2).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from andromede.compute.errors import (
    IncorrectState,
    InvalidInstanceAttributeValue,
    InvalidParameterValue,
    NotFound,
)
from andromede.compute.model import (
    Instance,
    InstanceProfileRef,
    InstanceState,
    Volume,
    check_id,
    new_id,
)
from andromede.compute.network import default_ids
from andromede.compute.vpcs import VpcsMixin

__all__ = ["MAX_GROUPS_PER_INSTANCE", "InstanceAttributesMixin", "ProfileAssociation"]

_GONE = (InstanceState.SHUTTING_DOWN, InstanceState.TERMINATED)
MAX_GROUPS_PER_INSTANCE = 5  # EC2's default limit of security groups per interface


class ProfileAssociation:
    __slots__ = ("instance_id", "profile", "state")

    def __init__(self, instance_id: str, profile: InstanceProfileRef, state: str) -> None:
        self.instance_id = instance_id
        self.profile = profile
        self.state = state


class InstanceAttributesMixin(VpcsMixin):
    async def _changeable(self, tenant_id: str, instance_id: str) -> Instance:
        instance = await self._owned(Instance, tenant_id, instance_id, "i")
        if instance.state in _GONE:
            raise IncorrectState(f"The instance '{instance_id}' is terminated")
        return instance

    async def set_delete_on_termination(
        self, tenant_id: str, instance_id: str, changes: Sequence[tuple[str, bool]]
    ) -> None:
        """Whether the volume at each device goes with the instance when it terminates
        (ModifyInstanceAttribute's BlockDeviceMapping). Every device is checked before any
        changes: InvalidInstanceAttributeValue for one nothing is attached at."""
        instance = await self._owned(Instance, tenant_id, instance_id, "i")
        if instance.state in _GONE:
            raise IncorrectState(f"The instance '{instance_id}' is terminating or terminated")
        attached = {
            volume.attachment.device: volume
            for volume in await self.store.list(Volume, tenant_id)
            if volume.attachment is not None and volume.attachment.instance_id == instance_id
        }
        for device, _ in changes:
            if device not in attached:
                raise InvalidInstanceAttributeValue(
                    f"No device is currently mapped at {device[:32]}"
                )
        for device, keep_or_delete in changes:
            volume = attached[device]
            if volume.attachment is not None:
                changed = replace(volume.attachment, delete_on_termination=keep_or_delete)
                await self._update(volume, attachment=changed)

    async def set_security_groups(
        self, tenant_id: str, instance_id: str, group_ids: Sequence[str]
    ) -> Instance:
        wanted = tuple(dict.fromkeys(group_ids))
        if not 1 <= len(wanted) <= MAX_GROUPS_PER_INSTANCE:
            raise InvalidParameterValue(
                f"An instance has 1 to {MAX_GROUPS_PER_INSTANCE} security groups"
            )
        for _ in range(10):
            instance = await self._changeable(tenant_id, instance_id)
            # Instances recorded before custom VPCs name none: theirs is the first default VPC.
            vpc_id = instance.vpc_id or default_ids(tenant_id).vpc_id
            await self.check_groups_in(tenant_id, vpc_id, wanted, f"instance {instance_id}")
            try:
                changed = await self._update(instance, security_group_ids=wanted)
            except IncorrectState:
                continue
            await self._push_firewalls(tenant_id, {*instance.security_group_ids, *wanted})
            return changed
        raise IncorrectState(f"{instance_id} changed concurrently; retry")

    async def associate_profile(
        self, tenant_id: str, instance_id: str, profile: InstanceProfileRef
    ) -> ProfileAssociation:
        """IncorrectState when the instance already has a profile (EC2 says so too)."""
        for _ in range(10):
            instance = await self._changeable(tenant_id, instance_id)
            if instance.iam_instance_profile is not None:
                raise IncorrectState(f"There is an existing association for instance {instance_id}")
            given = replace(profile, association_id=new_id("iip-assoc"))
            try:
                await self._update(instance, iam_instance_profile=given)
            except IncorrectState:
                continue
            return ProfileAssociation(instance_id, given, "associated")
        raise IncorrectState(f"{instance_id} changed concurrently; retry")

    async def disassociate_profile(self, tenant_id: str, association_id: str) -> ProfileAssociation:
        check_id(association_id, "iip-assoc")
        for _ in range(10):
            instance = await self._associated(tenant_id, association_id)
            profile = instance.iam_instance_profile
            if profile is None:  # removed concurrently
                continue
            try:
                await self._update(instance, iam_instance_profile=None)
            except IncorrectState:
                continue
            return ProfileAssociation(instance.instance_id, profile, "disassociating")
        raise IncorrectState(f"{association_id} changed concurrently; retry")

    async def _associated(self, tenant_id: str, association_id: str) -> Instance:
        for instance in await self.store.list(Instance, tenant_id):
            profile = instance.iam_instance_profile
            if profile is not None and profile.association_id == association_id:
                if instance.state not in _GONE:
                    return instance
        raise NotFound("iip-assoc", association_id)

    async def profile_associations(
        self, tenant_id: str, association_ids: Sequence[str]
    ) -> list[ProfileAssociation]:
        found = [
            ProfileAssociation(i.instance_id, i.iam_instance_profile, "associated")
            for i in await self.store.list(Instance, tenant_id)
            if i.iam_instance_profile is not None
            and i.iam_instance_profile.association_id
            and i.state not in _GONE
        ]
        for association_id in association_ids:
            check_id(association_id, "iip-assoc")
            if not any(a.profile.association_id == association_id for a in found):
                raise NotFound("iip-assoc", association_id)
        if association_ids:
            return [a for a in found if a.profile.association_id in association_ids]
        return found
