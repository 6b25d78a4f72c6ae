"""CloudWatch Logs' field index policy operations (decision 0232): PutIndexPolicy,
DescribeIndexPolicies and DeleteIndexPolicy on a group (a name or an ARN; ``logs:<Op>`` on the
group's ARN), and the account's ``FIELD_INDEX_POLICY`` of PutAccountPolicy and
DeleteAccountPolicy (``logsapi.protection_actions`` authorises ``logs:<Op>AccountPolicy``;
AWS also asks ``logs:PutIndexPolicy`` or ``logs:DeleteIndexPolicy``, here on every group of
the account), shaped as AWS answers them. The policies are kept and answered; nothing is
indexed (``logs.field_indexes``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final

from andromede.logs.account_policies import AccountPolicy
from andromede.logs.errors import InvalidParameter
from andromede.logsapi.action_call import LogsCall
from andromede.logsapi.params import boolean, optional_str, required_str, strings

__all__ = ["INDEX_ACTIONS", "delete_index_account_policy", "put_index_account_policy"]


def _group_named(call: LogsCall, identifier: str) -> str:
    name = call.name_from_arn(identifier) if identifier.startswith("arn:") else identifier
    return call.group_name_checked(name)


async def put_index_policy(call: LogsCall) -> dict[str, Any]:
    name = _group_named(call, required_str(call.params, "logGroupIdentifier"))
    await call.allow("PutIndexPolicy", call.group_arn(name))
    group = await call.logs.group(call.tenant_id, name)
    shaped = await call.logs.indexes.put_group_policy(
        group, required_str(call.params, "policyDocument")
    )
    return {"indexPolicy": shaped}


async def describe_index_policies(call: LogsCall) -> dict[str, Any]:
    identifiers = strings(call.params, "logGroupIdentifiers")
    if identifiers is None or len(identifiers) != 1:
        raise InvalidParameter(
            "1 validation error detected: Value at 'logGroupIdentifiers' failed to satisfy "
            "constraint: Member must have length less than or equal to 1 and greater than or "
            "equal to 1"
        )
    name = _group_named(call, identifiers[0])
    await call.allow("DescribeIndexPolicies", call.group_arn(name))
    optional_str(call.params, "nextToken")  # one group, one policy at most: never a next page
    group = await call.logs.group(call.tenant_id, name)
    found = await call.logs.indexes.describe(group)
    return {"indexPolicies": [] if found is None else [found]}


async def delete_index_policy(call: LogsCall) -> dict[str, Any]:
    name = _group_named(call, required_str(call.params, "logGroupIdentifier"))
    await call.allow("DeleteIndexPolicy", call.group_arn(name))
    group = await call.logs.group(call.tenant_id, name)
    await call.logs.indexes.delete_group_policy(group)
    return {}


async def put_index_account_policy(call: LogsCall) -> AccountPolicy:
    """PutAccountPolicy of a FIELD_INDEX_POLICY (``logs:PutAccountPolicy`` allowed)."""
    name = required_str(call.params, "policyName")
    document = required_str(call.params, "policyDocument")
    await call.allow("PutIndexPolicy", call.group_arn("*"))
    return await call.logs.indexes.put_account_policy(
        call.tenant_id,
        name,
        document,
        optional_str(call.params, "scope"),
        optional_str(call.params, "selectionCriteria"),
        dry_run=boolean(call.params, "dryRun", False),
    )


async def delete_index_account_policy(call: LogsCall) -> None:
    """DeleteAccountPolicy of a FIELD_INDEX_POLICY (``logs:DeleteAccountPolicy`` allowed)."""
    name = required_str(call.params, "policyName")
    await call.allow("DeleteIndexPolicy", call.group_arn("*"))
    await call.logs.indexes.delete_account_policy(call.tenant_id, name)


INDEX_ACTIONS: Final[dict[str, Callable[[LogsCall], Awaitable[dict[str, Any]]]]] = {
    "PutIndexPolicy": put_index_policy,
    "DescribeIndexPolicies": describe_index_policies,
    "DeleteIndexPolicy": delete_index_policy,
}
