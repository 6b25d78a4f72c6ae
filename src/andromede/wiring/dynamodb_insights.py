"""CloudWatch Contributor Insights for DynamoDB's wiring (decision 0278): the managed
insight rules of CloudWatch's service (``metrics.insight_service``, decision 0272) as the
``ManagedRules`` port DynamoDB's Contributor Insights needs, and that service set on the
home Region's DynamoDB service (the keys of its item calls) and API app (the three calls).

The rules' events are tallied, flushed, sealed and billed
(``cloudwatch.insight-rule-events``, rule-hours ``cloudwatch.insight-rules``) by CloudWatch's
own upkeep, as the rules over log events are: nothing here runs in the background."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Final

from andromede.dynamodb.contributor_insights import ContributorInsights, ManagedRule
from andromede.dynamodbapi.app import DynamoApp
from andromede.http.response import Receive, Scope, Send
from andromede.metrics.insight_service import InsightRuleService
from andromede.metrics.service import MetricsService
from andromede.settings import Settings

__all__ = ["InsightRulesPort", "dynamodb_insights"]

ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
_MANAGED_BY: Final = ":dynamodb:"


class InsightRulesPort:
    """``ManagedRules`` over CloudWatch's insight rule service: DynamoDB's rules only (a
    managed rule whose resource is a DynamoDB table or index)."""

    def __init__(self, service: InsightRuleService) -> None:
        self._service = service

    async def put(self, tenant_id: str, resource: str, rules: Sequence[tuple[str, str]]) -> bool:
        return await self._service.put_managed(tenant_id, resource, rules)

    async def rules(self, tenant_id: str) -> list[ManagedRule]:
        return [
            ManagedRule(r.name, r.managed_by, int(r.created.timestamp() * 1000))
            for r in await self._service.managed(tenant_id)
            if _MANAGED_BY in r.managed_by
        ]

    async def remove(self, tenant_id: str, names: Sequence[str]) -> None:
        await self._service.delete_managed(tenant_id, names)

    def contribute(self, tenant_id: str, rule: str, at_ms: int, keys: tuple[str, ...]) -> None:
        self._service.contribute(tenant_id, rule, at_ms, keys)


def dynamodb_insights(
    apis: Mapping[str, ASGIApp], metrics: MetricsService, settings: Settings
) -> ContributorInsights | None:
    """DynamoDB's Contributor Insights over the insight rules CloudWatch's wiring made
    (``metrics.insights``), set on the DynamoDB app and its home service; None when either
    is not served."""
    app = apis.get(DynamoApp.name)
    rules = metrics.insights
    if not isinstance(app, DynamoApp) or not isinstance(rules, InsightRuleService):
        return None
    insights = ContributorInsights(
        InsightRulesPort(rules), cache_ms=int(settings.insight_rules_cache * 1000)
    )
    app.contributor_insights = insights
    app.service.insights = insights
    return insights
