"""CloudWatch Logs' subscription filter operations (decision 0225): PutSubscriptionFilter,
DescribeSubscriptionFilters and DeleteSubscriptionFilter, shaped as AWS answers them. Each
authorises ``logs:<Op>`` on the group's ARN; PutSubscriptionFilter also ``iam:PassRole`` on
its role, as AWS asks of every destination but a Lambda function (decision 0304: Logs invokes
a function as itself, its policy decides). The account-level ``SUBSCRIPTION_FILTER_POLICY``
(decision 0232) of PutAccountPolicy and DeleteAccountPolicy (``logsapi.protection_actions``
authorises ``logs:<Op>AccountPolicy``) also asks, as AWS, ``logs:PutSubscriptionFilter``
(with ``iam:PassRole`` on the document's role, but a function's) or
``logs:DeleteSubscriptionFilter``, on every group of the account (``log-group:*``)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, Final

from andromede.logs.account_policies import AccountPolicy
from andromede.logs.errors import InvalidParameter
from andromede.logs.model import check_group_name
from andromede.logs.subscription_service import Subscriptions
from andromede.logs.subscriptions import is_lambda
from andromede.logsapi.action_call import LogsCall
from andromede.logsapi.params import boolean, integer, optional_str, required_str

__all__ = ["SUBSCRIPTION_ACTIONS", "delete_subscription_policy", "put_subscription_policy"]


def _served(call: LogsCall) -> Subscriptions:
    if call.subscriptions is None:
        raise InvalidParameter("Subscription filters are not served by this deployment.")
    return call.subscriptions


async def _pass_role(call: LogsCall, role: object, destination: object) -> None:
    """``iam:PassRole`` on the role given, unless the destination is a Lambda function (no
    role is passed to it: AWS asks none)."""
    if isinstance(destination, str) and is_lambda(destination):
        return
    if isinstance(role, str):
        call.resources.append(role)
        try:
            await call.authorise("iam:PassRole", role)
        except Exception:
            call.denied = True
            raise


async def put_subscription_filter(call: LogsCall) -> dict[str, Any]:
    group = check_group_name(required_str(call.params, "logGroupName"))
    await call.allow("PutSubscriptionFilter", call.group_arn(group))
    for name in ("filterName", "destinationArn"):
        required_str(call.params, name)
    if call.params.get("filterPattern") is None:
        required_str(call.params, "filterPattern")
    await _pass_role(call, optional_str(call.params, "roleArn"), call.params.get("destinationArn"))
    await _served(call).put(call.tenant_id, group, call.params)
    return {}


async def describe_subscription_filters(call: LogsCall) -> dict[str, Any]:
    group = check_group_name(required_str(call.params, "logGroupName"))
    await call.allow("DescribeSubscriptionFilters", call.group_arn(group))
    found, token = await _served(call).describe(
        call.tenant_id,
        group,
        optional_str(call.params, "filterNamePrefix") or "",
        integer(call.params, "limit"),
        optional_str(call.params, "nextToken"),
    )
    answer: dict[str, Any] = {"subscriptionFilters": [f.shape() for f in found]}
    if token is not None:
        answer["nextToken"] = token
    return answer


async def delete_subscription_filter(call: LogsCall) -> dict[str, Any]:
    group = check_group_name(required_str(call.params, "logGroupName"))
    await call.allow("DeleteSubscriptionFilter", call.group_arn(group))
    await _served(call).delete(call.tenant_id, group, required_str(call.params, "filterName"))
    return {}


async def put_subscription_policy(call: LogsCall) -> AccountPolicy:
    """PutAccountPolicy of a SUBSCRIPTION_FILTER_POLICY (``logs:PutAccountPolicy`` allowed)."""
    name = required_str(call.params, "policyName")
    document = required_str(call.params, "policyDocument")
    await call.allow("PutSubscriptionFilter", call.group_arn("*"))
    try:
        parsed = json.loads(document)
        role, destination = parsed.get("RoleArn"), parsed.get("DestinationArn")
    except (ValueError, AttributeError):
        role = destination = None  # the service says what is wrong with the document
    await _pass_role(call, role, destination)
    return await _served(call).put_account_policy(
        call.tenant_id,
        name,
        document,
        optional_str(call.params, "scope"),
        optional_str(call.params, "selectionCriteria"),
        dry_run=boolean(call.params, "dryRun", False),
    )


async def delete_subscription_policy(call: LogsCall) -> None:
    """DeleteAccountPolicy of a SUBSCRIPTION_FILTER_POLICY (``logs:DeleteAccountPolicy``
    allowed)."""
    name = required_str(call.params, "policyName")
    await call.allow("DeleteSubscriptionFilter", call.group_arn("*"))
    await _served(call).delete_account_policy(call.tenant_id, name)


SUBSCRIPTION_ACTIONS: Final[dict[str, Callable[[LogsCall], Awaitable[dict[str, Any]]]]] = {
    "PutSubscriptionFilter": put_subscription_filter,
    "DescribeSubscriptionFilters": describe_subscription_filters,
    "DeleteSubscriptionFilter": delete_subscription_filter,
}
