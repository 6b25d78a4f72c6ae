"""CloudWatch Logs' metric filter and resource policy operations (decision 0186, session 48
addendum): PutMetricFilter, DescribeMetricFilters, DeleteMetricFilter, TestMetricFilter,
PutResourcePolicy, DescribeResourcePolicies and DeleteResourcePolicy, shaped as AWS answers
them. PutMetricFilter and DeleteMetricFilter authorise ``logs:<Op>`` on the group's ARN,
DescribeMetricFilters on the group's (or every group's, ``*``); TestMetricFilter and the
account's resource policies, which name no log group, on ``*`` as AWS's model has it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final

from andromede.logs.errors import InvalidParameter
from andromede.logs.model import check_group_name
from andromede.logsapi.action_call import LogsCall
from andromede.logsapi.params import integer, optional_str, required_str, strings

__all__ = ["FILTER_AND_POLICY_ACTIONS"]


async def put_metric_filter(call: LogsCall) -> dict[str, Any]:
    group = check_group_name(required_str(call.params, "logGroupName"))
    await call.allow("PutMetricFilter", call.group_arn(group))
    if call.params.get("filterPattern") is None:
        required_str(call.params, "filterPattern")
    await call.logs.put_metric_filter(
        call.tenant_id,
        group,
        required_str(call.params, "filterName"),
        call.params.get("filterPattern"),
        call.params.get("metricTransformations"),
    )
    return {}


async def delete_metric_filter(call: LogsCall) -> dict[str, Any]:
    group = check_group_name(required_str(call.params, "logGroupName"))
    await call.allow("DeleteMetricFilter", call.group_arn(group))
    await call.logs.delete_metric_filter(
        call.tenant_id, group, required_str(call.params, "filterName")
    )
    return {}


async def describe_metric_filters(call: LogsCall) -> dict[str, Any]:
    group = optional_str(call.params, "logGroupName")
    if group is not None:
        check_group_name(group)
    await call.allow("DescribeMetricFilters", call.group_arn(group or "*"))
    found, token = await call.logs.describe_metric_filters(
        call.tenant_id,
        group,
        optional_str(call.params, "filterNamePrefix") or "",
        optional_str(call.params, "metricName"),
        optional_str(call.params, "metricNamespace"),
        integer(call.params, "limit"),
        optional_str(call.params, "nextToken"),
    )
    answer: dict[str, Any] = {
        "metricFilters": [
            {
                "filterName": f.name,
                "filterPattern": f.pattern,
                "metricTransformations": [f.transformation.shape()],
                "creationTime": f.created,
                "logGroupName": f.group,
                "applyOnTransformedLogs": False,
            }
            for f in found
        ]
    }
    if token is not None:
        answer["nextToken"] = token
    return answer


async def test_metric_filter(call: LogsCall) -> dict[str, Any]:
    await call.allow("TestMetricFilter", "*")
    pattern = required_str(call.params, "filterPattern")
    messages = strings(call.params, "logEventMessages")
    if messages is None:
        raise InvalidParameter(
            "1 validation error detected: Value null at 'logEventMessages' failed to satisfy "
            "constraint: Member must not be null"
        )
    return {
        "matches": [
            {"eventNumber": number, "eventMessage": message, "extractedValues": extracted}
            for number, message, extracted in call.logs.test_metric_filter(pattern, messages)
        ]
    }


async def put_resource_policy(call: LogsCall) -> dict[str, Any]:
    await call.allow("PutResourcePolicy", "*")
    for unserved in ("resourceArn", "expectedRevisionId"):
        if call.params.get(unserved) is not None:
            raise InvalidParameter(
                f"{unserved}: only account-level resource policies are served (decision 0186)"
            )
    policy = await call.logs.put_resource_policy(
        call.tenant_id,
        required_str(call.params, "policyName"),
        required_str(call.params, "policyDocument"),
    )
    return {"resourcePolicy": policy.shape()}


async def describe_resource_policies(call: LogsCall) -> dict[str, Any]:
    await call.allow("DescribeResourcePolicies", "*")
    scope = optional_str(call.params, "policyScope")
    if scope not in (None, "ACCOUNT"):
        raise InvalidParameter("policyScope: only ACCOUNT policies are served (decision 0186)")
    found, token = await call.logs.describe_resource_policies(
        call.tenant_id, integer(call.params, "limit"), optional_str(call.params, "nextToken")
    )
    answer: dict[str, Any] = {"resourcePolicies": [p.shape() for p in found]}
    if token is not None:
        answer["nextToken"] = token
    return answer


async def delete_resource_policy(call: LogsCall) -> dict[str, Any]:
    await call.allow("DeleteResourcePolicy", "*")
    if call.params.get("resourceArn") is not None:
        raise InvalidParameter(
            "resourceArn: only account-level policies are served (decision 0186)"
        )
    await call.logs.delete_resource_policy(call.tenant_id, required_str(call.params, "policyName"))
    return {}


FILTER_AND_POLICY_ACTIONS: Final[dict[str, Callable[[LogsCall], Awaitable[dict[str, Any]]]]] = {
    "PutMetricFilter": put_metric_filter,
    "DeleteMetricFilter": delete_metric_filter,
    "DescribeMetricFilters": describe_metric_filters,
    "TestMetricFilter": test_metric_filter,
    "PutResourcePolicy": put_resource_policy,
    "DescribeResourcePolicies": describe_resource_policies,
    "DeleteResourcePolicy": delete_resource_policy,
}
