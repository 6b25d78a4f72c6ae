"""An image's attributes (decision 0147): its launch permissions, the accounts its owner shares
it with, and its description.

An account the image is shared with sees it in DescribeImages and launches from it; it cannot
change, share, copy-tag or deregister it. A launch reads the owner's snapshots and makes the
new volumes under the launching account's keys. An image under a customer-managed KMS key is
shared as any other: what the other account may do with it is its owner's key policy and
grants, checked at each launch or copy as that account (``VolumesMixin._may_read_shared``),
as on EC2, where sharing the AMI and sharing its key are two acts. Tenants cannot make
an image public (the ``all`` group): public images are the operator's, a choice of least
privilege — a tenant's disk never becomes readable by every account of the platform.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from andromede.compute.errors import InvalidParameterValue, OperationNotPermitted
from andromede.compute.model import Image, ImageState
from andromede.compute.service_core import NAME_MAX, ServiceCore

__all__ = ["ImagePermissionsMixin"]

# A tenant id as ARNs carry it (the account): letters, digits and dashes.
_ACCOUNT = re.compile(r"[A-Za-z0-9-]{1,64}")


class ImagePermissionsMixin(ServiceCore):
    async def image_attributes(self, tenant_id: str, image_id: str) -> Image:
        """The owner's image (DescribeImageAttribute): another account's is not found."""
        return await self._owned(Image, tenant_id, image_id, "ami")

    async def modify_image_launch_permission(
        self,
        tenant_id: str,
        image_id: str,
        *,
        add: Sequence[str] = (),
        remove: Sequence[str] = (),
        groups_added: Sequence[str] = (),
        groups_removed: Sequence[str] = (),
    ) -> Image:
        """ModifyImageAttribute's launchPermission: accounts added, then removed (removing one
        the image is not shared with is no error, as on EC2)."""
        image = await self._owned(Image, tenant_id, image_id, "ami")
        for group in (*groups_added, *groups_removed):
            if group != "all":
                raise InvalidParameterValue(f"Invalid launch permission group: {group[:32]}")
        if groups_added:
            raise OperationNotPermitted(
                "Images cannot be made public here: block public access for AMIs is on for "
                "every account; share the image with accounts (UserId) instead"
            )
        for account in (*add, *remove):
            if not _ACCOUNT.fullmatch(account):
                raise InvalidParameterValue(f"Invalid user id: {account[:64]}")
        if tenant_id in add:
            raise InvalidParameterValue("An image cannot be shared with its owner")
        if add:
            await self._check_shareable(image)
        shared = [a for a in dict.fromkeys((*image.launch_permissions, *add)) if a not in remove]
        if len(shared) > self.limits.max_image_launch_permissions:
            raise InvalidParameterValue(
                f"An image is shared with at most {self.limits.max_image_launch_permissions} "
                "accounts here"
            )
        if tuple(shared) == image.launch_permissions:
            return image
        return await self._update(image, launch_permissions=tuple(shared))

    async def _check_shareable(self, image: Image) -> None:
        if image.state is not ImageState.AVAILABLE:
            raise OperationNotPermitted(f"The image {image.image_id} is not available")

    async def modify_image_description(
        self, tenant_id: str, image_id: str, description: str
    ) -> Image:
        image = await self._owned(Image, tenant_id, image_id, "ami")
        if len(description) > NAME_MAX:
            raise InvalidParameterValue("The description is at most 255 characters")
        return await self._update(image, description=description)

    async def reset_image_launch_permission(self, tenant_id: str, image_id: str) -> Image:
        """ResetImageAttribute's launchPermission: shared with no account any more."""
        image = await self._owned(Image, tenant_id, image_id, "ami")
        if not image.launch_permissions:
            return image
        return await self._update(image, launch_permissions=())
