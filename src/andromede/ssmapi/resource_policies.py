"""Parameter Store's resource-policy actions (decision 0249): PutResourcePolicy,
GetResourcePolicies (paged) and DeleteResourcePolicy, each parsing its parameters against
botocore's model of ``ssm`` and answering AWS's shape. Only parameters carry policies here
(OpsItemGroup and documents are features not served)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final

from andromede.ssmapi.call import SsmCall, invalid, page

__all__ = ["RESOURCE_POLICY_ACTIONS"]

_MAX_POLICY: Final = 1 << 20  # the model sets none; the service's size limit is a setting


def _resource_arn(call: SsmCall) -> str:
    arn = call.string("ResourceArn", required=True, min_length=20, max_length=2048)
    assert arn is not None  # noqa: S101 (required)
    return arn


async def put_resource_policy(call: SsmCall) -> dict[str, Any]:
    arn = _resource_arn(call)
    text = call.string("Policy", required=True, min_length=1, max_length=_MAX_POLICY)
    assert text is not None  # noqa: S101 (required)
    if not text.strip():
        raise invalid("Policy", "Member must satisfy regular expression pattern: ^(?!\\s*$).+")
    written = await call.parameters.resource_policies.put(
        call.actor,
        arn,
        text,
        call.string("PolicyId", min_length=1, max_length=256),
        call.string("PolicyHash", min_length=1, max_length=256),
    )
    call.resources.append(arn)
    return {"PolicyId": written.policy_id, "PolicyHash": written.policy_hash}


async def get_resource_policies(call: SsmCall) -> dict[str, Any]:
    arn = _resource_arn(call)
    size = call.integer("MaxResults", minimum=1, maximum=50) or 50
    held = await call.parameters.resource_policies.list(call.actor, arn)
    chosen, token = page(held, call.offset(), size)
    call.resources.append(arn)
    return {
        "Policies": [
            {"PolicyId": p.policy_id, "PolicyHash": p.policy_hash, "Policy": p.policy}
            for p in chosen
        ],
        **token,
    }


async def delete_resource_policy(call: SsmCall) -> dict[str, Any]:
    arn = _resource_arn(call)
    policy_id = call.string("PolicyId", required=True, min_length=1, max_length=256)
    policy_hash = call.string("PolicyHash", required=True, min_length=1, max_length=256)
    assert policy_id is not None and policy_hash is not None  # noqa: S101 (required)
    await call.parameters.resource_policies.delete(call.actor, arn, policy_id, policy_hash)
    call.resources.append(arn)
    return {}


RESOURCE_POLICY_ACTIONS: Final[dict[str, Callable[[SsmCall], Awaitable[dict[str, Any]]]]] = {
    "DeleteResourcePolicy": delete_resource_policy,
    "GetResourcePolicies": get_resource_policies,
    "PutResourcePolicy": put_resource_policy,
}
