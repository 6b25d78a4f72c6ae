"""The roles EventBridge Pipes acts as (decision 0258): a pipe's ``RoleArn``, assumed by
``pipes.amazonaws.com``, and what its identity policies allow, judged by the same engine as
every request (within its permissions boundary). A pipe reads its source and writes its
target as that role, never as itself: the role must be of the pipe's account and trust
``pipes.amazonaws.com``, else the pipe cannot run (``FAILED_TO_ASSUME_ROLE``)."""

from __future__ import annotations

from typing import Final

from andromede.iam.errors import IamError
from andromede.iam.model import Principal, PrincipalKind
from andromede.iam.policy_context import policies_allow, principal_context, principal_keys
from andromede.iam.service import IdentityService
from andromede.pipes.errors import EndpointRefused
from andromede.pipes.model import Pipe
from andromede.replication_grants import role_trusts

__all__ = ["PIPES_PRINCIPAL", "PipeRoles"]

PIPES_PRINCIPAL: Final = "pipes.amazonaws.com"


class PipeRoles:
    def __init__(self, identity: IdentityService, region: str) -> None:
        self._identity = identity
        self._region = region

    async def session(self, pipe: Pipe) -> Principal:
        """The pipe's role's session; EndpointRefused when the role is not the account's, is
        gone, or does not trust EventBridge Pipes."""
        try:
            role = await self._identity.get_role_by_arn(pipe.role_arn)
        except IamError:
            role = None
        if (
            role is None
            or role.tenant_id != pipe.tenant_id
            or not role_trusts(role.assume_role_policy_document, PIPES_PRINCIPAL)
        ):
            raise EndpointRefused(
                "FAILED_TO_ASSUME_ROLE",
                f"{PIPES_PRINCIPAL} may not assume the role {pipe.role_arn[:512]}",
            )
        return Principal(
            tenant_id=role.tenant_id,
            user_id=role.id,
            user_name=role.name,
            kind=PrincipalKind.ROLE_SESSION,
            arn=f"arn:aws:sts::{role.tenant_id}:assumed-role/{role.name}/{pipe.name[:64]}",
            session_name=pipe.name[:64],
        )

    async def require(self, session: Principal, action: str, resource: str) -> None:
        """EndpointRefused (``NO_PERMISSIONS``) unless the session may ``action`` on
        ``resource``."""
        policies = await self._identity.policies_for(session)
        context = principal_context(
            session,
            action=action,
            resource=resource,
            source_ip=None,
            secure=True,
            region=self._region,
            keys=principal_keys(policies),
        )
        if not policies_allow(context, policies):
            raise EndpointRefused(
                "NO_PERMISSIONS", f"the pipe's role may not {action} on {resource[:512]}"
            )
