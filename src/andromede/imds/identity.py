"""The credentials issuer over identity: an instance's profile → its role's credentials.

What the EC2 service does on AWS, done here through :meth:`IdentityService.
issue_instance_credentials`: the role must trust ``ec2.amazonaws.com``, the session is named
after the instance. A profile that is gone, holds no role or whose role does not trust EC2
gives the instance no credentials (its ``iam/`` paths answer 404), noted in the log without a
secret in it.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from andromede.iam.errors import AccessDenied, InvalidInput, NoSuchEntity
from andromede.iam.service import IdentityService
from andromede.imds.instances import InstanceMetadata, RoleCredentials

__all__ = ["IdentityCredentialsIssuer"]

log = logging.getLogger(__name__)


class IdentityCredentialsIssuer:
    def __init__(self, identity: IdentityService, *, duration: int) -> None:
        self._identity = identity
        self._duration = duration

    async def __call__(self, instance: InstanceMetadata) -> RoleCredentials | None:
        if instance.instance_profile is None:
            return None
        try:
            given = await self._identity.issue_instance_credentials(
                instance.account_id,
                instance.instance_profile,
                instance.instance_id,
                self._duration,
            )
        except (NoSuchEntity, AccessDenied, InvalidInput) as exc:
            log.info(
                "instance %s: no credentials from instance profile %s: %s",
                instance.instance_id,
                instance.instance_profile,
                exc,
            )
            return None
        issued = given.credentials
        return RoleCredentials(
            instance_profile_arn=given.profile.arn,
            instance_profile_id=given.profile.id,
            role_name=given.role.name,
            access_key_id=issued.access_key_id,
            secret_access_key=issued.secret_access_key,
            session_token=issued.session_token,
            expiration=issued.expiration,
            # The service issued them for this long (never past the role's maximum).
            issued_at=issued.expiration
            - timedelta(seconds=min(self._duration, given.role.max_session_duration)),
        )
