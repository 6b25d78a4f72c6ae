"""The roles EventBridge Pipes acts as (decision 0258): a pipe's ``RoleArn``, assumed by
``pipes.amazonaws.com``, and what its identity policies allow, judged by the same engine as
every request (within its permissions boundary). A pipe reads its source and writes its
target as that role, never as itself: the role must be of the pipe's account and trust
``pipes.amazonaws.com`` — for the pipe, its ARN the trust policy's ``aws:SourceArn`` and its
account ``aws:SourceAccount`` (decision 0321) —, else the pipe cannot run
(``FAILED_TO_ASSUME_ROLE``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from andromede.iam.model import Principal
from andromede.iam.policy import ContextValue
from andromede.iam.service import IdentityService
from andromede.iam.service_roles import ServiceRoleSessions, TrustSource
from andromede.pipes.errors import EndpointRefused
from andromede.pipes.model import Pipe

__all__ = ["PIPES_PRINCIPAL", "PipeRoles"]

PIPES_PRINCIPAL: Final = "pipes.amazonaws.com"


class PipeRoles:
    def __init__(self, identity: IdentityService, region: str) -> None:
        self._sessions = ServiceRoleSessions(identity, PIPES_PRINCIPAL, region)

    async def session(self, pipe: Pipe) -> Principal:
        """The pipe's role's session; EndpointRefused when the role is not the account's, is
        gone, or does not trust EventBridge Pipes."""
        session = await self._sessions.session(
            pipe.tenant_id, pipe.role_arn, pipe.name, TrustSource.of(pipe.arn)
        )
        if session is None:
            raise EndpointRefused(
                "FAILED_TO_ASSUME_ROLE",
                f"{PIPES_PRINCIPAL} may not assume the role {pipe.role_arn[:512]}",
            )
        return session

    async def require(
        self,
        session: Principal,
        action: str,
        resource: str,
        keys: Mapping[str, ContextValue] | None = None,
    ) -> None:
        """EndpointRefused (``NO_PERMISSIONS``) unless the session may ``action`` on
        ``resource`` (``keys``: the request's own condition keys)."""
        if not await self._sessions.allowed(session, action, resource, keys=keys):
            raise EndpointRefused(
                "NO_PERMISSIONS", f"the pipe's role may not {action} on {resource[:512]}"
            )
