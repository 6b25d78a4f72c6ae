"""CloudWatch's Contributor Insights operations (decision 0272): PutInsightRule,
DescribeInsightRules, DeleteInsightRules, EnableInsightRules, DisableInsightRules and
GetInsightRuleReport, their input shapes (the members of AWS's model read), the calls audited,
and the ARNs each call is authorised on — ``arn:aws:cloudwatch:<region>:<account>:
insight-rule/<name>``, each name of a batch call. The tag calls on a rule's ARN are answered
here too (:func:`insight_tag_call`). The managed rules (PutManagedInsightRules,
ListManagedInsightRules) are not served: they answer ``NotImplemented``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

from andromede.cloudwatchapi.call import MetricsCall
from andromede.cloudwatchapi.errors import CloudWatchError
from andromede.metrics.errors import LimitExceeded, ResourceNotFound
from andromede.metrics.insight_rules import DISABLED, ENABLED, SCHEMA, insight_rule_arn
from andromede.metrics.insight_service import Failure, InsightRuleService

__all__ = [
    "INSIGHT_ACTIONS",
    "INSIGHT_AUDITED",
    "INSIGHT_INPUTS",
    "insight_resources",
    "insight_tag_call",
    "is_insight_rule_arn",
]

_NAMES: Final = {"RuleNames": ["string"]}
INSIGHT_INPUTS: Final[dict[str, dict[str, Any]]] = {
    "PutInsightRule": {
        "RuleName": "string",
        "RuleState": "string",
        "RuleDefinition": "string",
        "Tags": [{"Key": "string", "Value": "string"}],
        "ApplyOnTransformedLogs": "boolean",
    },
    "DescribeInsightRules": {"NextToken": "string", "MaxResults": "integer"},
    "DeleteInsightRules": _NAMES,
    "EnableInsightRules": _NAMES,
    "DisableInsightRules": _NAMES,
    "GetInsightRuleReport": {
        "RuleName": "string",
        "StartTime": "timestamp",
        "EndTime": "timestamp",
        "Period": "integer",
        "MaxContributorCount": "integer",
        "Metrics": ["string"],
        "OrderBy": "string",
    },
}
# Management events, as CloudTrail logs them.
INSIGHT_AUDITED: Final = frozenset(
    {"PutInsightRule", "DeleteInsightRules", "EnableInsightRules", "DisableInsightRules"}
)
_MARK: Final = ":insight-rule/"
_TAG_CALLS: Final = frozenset({"TagResource", "UntagResource", "ListTagsForResource"})


def _own_rule(arn: str, region: str, tenant_id: str) -> str | None:
    """The rule's name when ``arn`` is a rule of the caller's account. An ARN with no account
    (``arn:aws:cloudwatch:<region>::insight-rule/<name>``) is read as the caller's: Terraform's
    provider builds the rule's ARN itself and leaves the account out when it was told not to
    ask for it (``skip_requesting_account_id``), as providers pointed at other endpoints are."""
    for account in (tenant_id, ""):
        prefix = insight_rule_arn(region, account, "")
        if arn.startswith(prefix) and len(arn) > len(prefix):
            return arn[len(prefix) :]
    return None


def insight_resources(
    operation: str, region: str, tenant_id: str, params: Mapping[str, Any]
) -> list[str] | None:
    """The ARNs the call is authorised on; None for a call on ``*`` (DescribeInsightRules,
    or one not about insight rules)."""
    arn = params.get("ResourceARN")
    if operation in _TAG_CALLS and isinstance(arn, str) and is_insight_rule_arn(arn):
        owned = _own_rule(arn, region, tenant_id)
        return [arn if owned is None else insight_rule_arn(region, tenant_id, owned)]
    if operation in ("PutInsightRule", "GetInsightRuleReport"):
        name = params.get("RuleName")
        return [insight_rule_arn(region, tenant_id, name)] if isinstance(name, str) else None
    if operation in ("DeleteInsightRules", "EnableInsightRules", "DisableInsightRules"):
        names = params.get("RuleNames") or []
        return [insight_rule_arn(region, tenant_id, n) for n in dict.fromkeys(names)] or None
    return None


def _service(call: MetricsCall) -> InsightRuleService:
    if call.insights is None:
        raise CloudWatchError("NotImplemented", "Contributor Insights is not served here.")
    return call.insights


def _failures(failures: list[Failure]) -> dict[str, Any]:
    return {
        "Failures": [
            {
                "FailureResource": f.resource,
                "ExceptionType": f.exception_type,
                "FailureCode": f.code,
                "FailureDescription": f.description,
            }
            for f in failures
        ]
    }


async def put_insight_rule(call: MetricsCall) -> dict[str, Any]:
    params = call.params
    try:
        await _service(call).put(
            call.tenant_id,
            params.get("RuleName"),
            params.get("RuleState"),
            params.get("RuleDefinition"),
            params.get("Tags"),
            params.get("ApplyOnTransformedLogs"),
        )
    except LimitExceeded as exc:  # PutInsightRule's is the Exception shape, not the Fault
        raise CloudWatchError("LimitExceededException", exc.message) from exc
    return {}


async def describe_insight_rules(call: MetricsCall) -> dict[str, Any]:
    found, token = await _service(call).describe(
        call.tenant_id, call.params.get("MaxResults"), call.params.get("NextToken")
    )
    answer: dict[str, Any] = {
        "InsightRules": [
            {
                "Name": rule.name,
                "State": rule.state,
                "Schema": SCHEMA,
                "Definition": rule.definition,
                "ManagedRule": bool(rule.managed_by),  # decision 0278
                "ApplyOnTransformedLogs": rule.apply_on_transformed_logs,
            }
            for rule in found
        ]
    }
    if token is not None:
        answer["NextToken"] = token
    return answer


async def delete_insight_rules(call: MetricsCall) -> dict[str, Any]:
    return _failures(await _service(call).delete(call.tenant_id, call.params.get("RuleNames")))


async def enable_insight_rules(call: MetricsCall) -> dict[str, Any]:
    service = _service(call)
    return _failures(await service.set_state(call.tenant_id, call.params.get("RuleNames"), ENABLED))


async def disable_insight_rules(call: MetricsCall) -> dict[str, Any]:
    service = _service(call)
    return _failures(
        await service.set_state(call.tenant_id, call.params.get("RuleNames"), DISABLED)
    )


def _when(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


async def get_insight_rule_report(call: MetricsCall) -> dict[str, Any]:
    try:
        rule, found = await _service(call).report(call.tenant_id, call.params)
    except ResourceNotFound as exc:
        raise CloudWatchError("ResourceNotFoundException", exc.message) from exc
    compiled = rule.rule()
    return {
        "KeyLabels": list(compiled.key_labels),
        "AggregationStatistic": compiled.aggregate_on,
        "AggregateValue": found.aggregate_value,
        "ApproximateUniqueCount": found.unique_count,
        "Contributors": [
            {
                "Keys": list(keys),
                "ApproximateAggregateValue": total,
                "Datapoints": [
                    {"Timestamp": _when(at), "ApproximateValue": value} for at, value in points
                ],
            }
            for keys, total, points in found.contributors
        ],
        "MetricDatapoints": [{"Timestamp": _when(at), **values} for at, values in found.datapoints],
    }


def is_insight_rule_arn(arn: Any) -> bool:
    return isinstance(arn, str) and _MARK in arn


async def insight_tag_call(
    call: MetricsCall, add: list[tuple[str, str]], remove: list[str]
) -> tuple[tuple[str, str], ...]:
    """A tag call (TagResource, UntagResource, ListTagsForResource) on a rule's ARN of the
    caller's account."""
    service = _service(call)
    arn = call.params["ResourceARN"]
    name = _own_rule(arn, service.region, call.tenant_id)
    if name is None:
        raise CloudWatchError(
            "ResourceNotFoundException", f"{arn[:512]} is not an insight rule of this account."
        )
    try:
        return await service.retag(call.tenant_id, name, add, remove)
    except ResourceNotFound as exc:
        raise CloudWatchError("ResourceNotFoundException", exc.message) from exc


INSIGHT_ACTIONS: Final[dict[str, Callable[[MetricsCall], Awaitable[dict[str, Any]]]]] = {
    "PutInsightRule": put_insight_rule,
    "DescribeInsightRules": describe_insight_rules,
    "DeleteInsightRules": delete_insight_rules,
    "EnableInsightRules": enable_insight_rules,
    "DisableInsightRules": disable_insight_rules,
    "GetInsightRuleReport": get_insight_rule_report,
}
