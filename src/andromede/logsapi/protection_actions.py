"""CloudWatch Logs' data protection operations (decision 0211): Put/Get/
DeleteDataProtectionPolicy on a log group (authorised on the group's ARN), and the account's
PutAccountPolicy, DescribeAccountPolicies and DeleteAccountPolicy (on ``*``, as AWS's model
has them: they name no resource), shaped as AWS answers them; those of the
``SUBSCRIPTION_FILTER_POLICY`` and ``FIELD_INDEX_POLICY`` types (decision 0232) are
``logsapi.subscription_actions``' and ``logsapi.index_actions``'.
The reading side, ``unmask`` on GetLogEvents and FilterLogEvents, is in ``logsapi.actions``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final

from andromede.logs.account_policies import FIELD_INDEX, SUBSCRIPTION_FILTER
from andromede.logs.errors import InvalidParameter
from andromede.logsapi.action_call import LogsCall
from andromede.logsapi.index_actions import delete_index_account_policy, put_index_account_policy
from andromede.logsapi.params import boolean, optional_str, required_str, strings
from andromede.logsapi.subscription_actions import (
    delete_subscription_policy,
    put_subscription_policy,
)

__all__ = ["PROTECTION_ACTIONS"]


def _identified_group(call: LogsCall) -> tuple[str, str]:
    """The group ``logGroupIdentifier`` names (a name or an ARN), and the identifier."""
    identifier = required_str(call.params, "logGroupIdentifier")
    name = call.name_from_arn(identifier) if identifier.startswith("arn:") else identifier
    return call.group_name_checked(name), identifier


async def put_data_protection_policy(call: LogsCall) -> dict[str, Any]:
    name, identifier = _identified_group(call)
    await call.allow("PutDataProtectionPolicy", call.group_arn(name))
    group = await call.logs.group(call.tenant_id, name)
    document, updated = await call.logs.protection.put_group_policy(
        group, required_str(call.params, "policyDocument")
    )
    return {
        "logGroupIdentifier": identifier,
        "policyDocument": document,
        "lastUpdatedTime": updated,
    }


async def get_data_protection_policy(call: LogsCall) -> dict[str, Any]:
    name, identifier = _identified_group(call)
    await call.allow("GetDataProtectionPolicy", call.group_arn(name))
    group = await call.logs.group(call.tenant_id, name)
    answer: dict[str, Any] = {"logGroupIdentifier": identifier}
    if group.data_protection is not None:
        answer["policyDocument"] = group.data_protection
        answer["lastUpdatedTime"] = group.data_protection_updated
    return answer


async def delete_data_protection_policy(call: LogsCall) -> dict[str, Any]:
    name, _ = _identified_group(call)
    await call.allow("DeleteDataProtectionPolicy", call.group_arn(name))
    group = await call.logs.group(call.tenant_id, name)
    await call.logs.protection.delete_group_policy(group)
    return {}


async def put_account_policy(call: LogsCall) -> dict[str, Any]:
    await call.allow("PutAccountPolicy", "*")
    if call.params.get("policyType") == SUBSCRIPTION_FILTER:
        return {"accountPolicy": (await put_subscription_policy(call)).shape()}
    if call.params.get("policyType") == FIELD_INDEX:
        return {"accountPolicy": (await put_index_account_policy(call)).shape()}
    if call.params.get("selectionCriteria") is not None:
        raise InvalidParameter(
            "selectionCriteria is not allowed for a DATA_PROTECTION_POLICY account policy."
        )
    policy = await call.logs.protection.put_account_policy(
        call.tenant_id,
        required_str(call.params, "policyName"),
        required_str(call.params, "policyDocument"),
        required_str(call.params, "policyType"),
        optional_str(call.params, "scope"),
        dry_run=boolean(call.params, "dryRun", False),
    )
    return {"accountPolicy": policy.shape()}


async def describe_account_policies(call: LogsCall) -> dict[str, Any]:
    await call.allow("DescribeAccountPolicies", "*")
    if call.params.get("policyType") == SUBSCRIPTION_FILTER:  # AWS asks for both
        await call.allow("DescribeSubscriptionFilters", call.group_arn("*"))
    if call.params.get("policyType") == FIELD_INDEX:
        await call.allow("DescribeIndexPolicies", call.group_arn("*"))
    accounts = strings(call.params, "accountIdentifiers")
    if accounts is not None and any(a != call.tenant_id for a in accounts):
        raise InvalidParameter("accountIdentifiers: only the caller's own account is served")
    found = await call.logs.protection.describe_account_policies(
        call.tenant_id,
        required_str(call.params, "policyType"),
        optional_str(call.params, "policyName"),
    )
    return {"accountPolicies": [p.shape() for p in found]}


async def delete_account_policy(call: LogsCall) -> dict[str, Any]:
    await call.allow("DeleteAccountPolicy", "*")
    if call.params.get("policyType") == SUBSCRIPTION_FILTER:
        await delete_subscription_policy(call)
        return {}
    if call.params.get("policyType") == FIELD_INDEX:
        await delete_index_account_policy(call)
        return {}
    await call.logs.protection.delete_account_policy(
        call.tenant_id,
        required_str(call.params, "policyName"),
        required_str(call.params, "policyType"),
    )
    return {}


PROTECTION_ACTIONS: Final[dict[str, Callable[[LogsCall], Awaitable[dict[str, Any]]]]] = {
    "PutDataProtectionPolicy": put_data_protection_policy,
    "GetDataProtectionPolicy": get_data_protection_policy,
    "DeleteDataProtectionPolicy": delete_data_protection_policy,
    "PutAccountPolicy": put_account_policy,
    "DescribeAccountPolicies": describe_account_policies,
    "DeleteAccountPolicy": delete_account_policy,
}
