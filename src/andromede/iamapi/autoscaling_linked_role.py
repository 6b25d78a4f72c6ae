"""The service-linked role of an Auto Scaling group (decision 0208): CreateAutoScalingGroup's
``ServiceLinkedRoleARN``, which must name a role of ``autoscaling.amazonaws.com`` in the
account, the default ``AWSServiceRoleForAutoScaling`` made on the account's first group (as
AWS makes it, and only for a caller who may ``iam:CreateServiceLinkedRole`` it, as on AWS),
and which groups use a role (what keeps DeleteServiceLinkedRole from deleting
it).
"""

from __future__ import annotations

from andromede.autoscaling.model import group_arn
from andromede.autoscaling.service import AutoScalingService
from andromede.iam.errors import InvalidInput, NoSuchEntity
from andromede.iam.linked_services import SERVICES, linked_path
from andromede.iam.model import role_arn
from andromede.iam.service_linked_roles import LinkedRoleUsers
from andromede.iamapi.errors import QueryError
from andromede.iamapi.protocol import Call

__all__ = [
    "AUTOSCALING",
    "default_role_arn",
    "group_role",
    "made_on_first_use",
    "may_make_default",
    "role_users",
]

AUTOSCALING = "autoscaling.amazonaws.com"


def default_role_arn(tenant_id: str) -> str:
    return role_arn(tenant_id, linked_path(AUTOSCALING), SERVICES[AUTOSCALING].role_name)


async def group_role(call: Call) -> str | None:
    """The ``ServiceLinkedRoleARN`` asked for, once checked (None: not given, the default)."""
    arn = call.get("ServiceLinkedRoleARN")
    if arn is None:
        return None
    try:
        await call.identity.linked_role_of(call.tenant_id, AUTOSCALING, arn)
    except (NoSuchEntity, InvalidInput) as exc:
        raise QueryError(
            "ValidationError",
            f"ServiceLinkedRoleARN {arn[:256]} is not a service-linked role of "
            f"{AUTOSCALING} in this account",
        ) from exc
    return arn


async def may_make_default(call: Call) -> bool:
    """Whether the account's default role is still to be made, once the caller may make it:
    AWS asks the caller creating a group for ``iam:CreateServiceLinkedRole`` on the role when
    it is not there yet, and refuses the group with that AccessDenied otherwise (its
    documented "required permissions from other APIs")."""
    arn = default_role_arn(call.tenant_id)
    try:
        await call.identity.linked_role_of(call.tenant_id, AUTOSCALING, arn)
    except NoSuchEntity:
        await call.allow("iam:CreateServiceLinkedRole", arn, {"iam:AWSServiceName": AUTOSCALING})
        return True
    return False


async def made_on_first_use(call: Call) -> None:
    """The account's default role, made if it is not there yet."""
    await call.identity.service_linked_role(call.tenant_id, AUTOSCALING)


def role_users(service: AutoScalingService, region: str) -> LinkedRoleUsers:
    """Which groups of an account act as a role of Auto Scaling's: their ARNs."""

    async def users(tenant_id: str, principal: str, arn: str) -> list[str]:
        if principal != AUTOSCALING:
            return []
        default = default_role_arn(tenant_id)
        return [
            group_arn(region, tenant_id, group.group_id, group.name)
            for group in await service.store.groups(tenant_id)
            if (group.service_linked_role or default) == arn
        ]

    return users
