"""Records a VPC holds that CreateRouteTable and CreateNetworkAcl make alike (decisions 0121
and 0128): counted against a per-VPC limit, inserted by a change of the VPC (serialised on
its revision, so two made at once never pass the limit together and a VPC deleted at once
either sees the new record or is gone), and, with a client token, made at most once per
account and token.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from andromede.compute.errors import Duplicate, IncorrectState, NetworkLimitExceeded
from andromede.compute.model import (
    Tags,
    check_client_token,
    check_tags,
    new_id,
    request_digest,
    token_id,
)
from andromede.compute.network import Vpc
from andromede.compute.network_acl import NetworkAcl
from andromede.compute.routing import RouteTable
from andromede.compute.vpcs import VpcsMixin

__all__ = ["VpcMembersMixin"]

_ATTEMPTS = 8
_Member = TypeVar("_Member", RouteTable, NetworkAcl)


class VpcMembersMixin(VpcsMixin):
    async def _add_to_vpc(
        self,
        kind: type[_Member],
        prefix: str,
        tenant_id: str,
        vpc_id: str,
        tags: Tags,
        client_token: str | None,
        *,
        ready: Callable[[Vpc], Awaitable[Vpc]],
        quota: tuple[int, str],
        made: Callable[[str, Vpc, str], _Member],
    ) -> _Member:
        """A new ``kind`` of the VPC, ``made(id, vpc, request digest)`` once the VPC is
        ``ready`` (its own defaults stored); NetworkLimitExceeded (``prefix``, the message
        of ``quota``) when the VPC holds ``quota``'s number of them already. With a client
        token (Terraform sends one), its id is derived from the account and the token, so
        the same request on two gateways writes one row and both answer it; the same token
        with other parameters is EC2's IdempotentParameterMismatch."""
        check_tags(tags)
        member_id, digest = new_id(prefix), ""
        if client_token is not None:
            check_client_token(client_token)
            member_id = token_id(prefix, tenant_id, client_token)
            digest = request_digest({"vpc": vpc_id, "tags": tags})
        limit, message = quota
        for _ in range(_ATTEMPTS):
            if digest:
                earlier = await self._made_with_token(kind, tenant_id, member_id, digest)
                if earlier is not None:
                    return earlier
            vpc = await ready(await self.owned_vpc(tenant_id, vpc_id))
            held = [m for m in await self.store.list(kind, tenant_id) if m.vpc_id == vpc_id]
            if len(held) >= limit:
                raise NetworkLimitExceeded(prefix, message)
            member = made(member_id, vpc, digest)
            try:
                if await self.store.change(vpc, insert=[member]):
                    return member
            except Duplicate:
                if client_token is None:
                    raise
                # The same request on another gateway or worker wrote it first: read it.
        raise IncorrectState(f"{vpc_id} changed concurrently; retry")
