"""CloudWatch Contributor Insights' calls (decision 0272) the console's rule pages make
(decision 0279), in process as the signed-in principal through CloudWatch's JSON 1.0 protocol:
its authorisation (``cloudwatch:<Action>`` on the rule's ARN), checks of the rule's
definition, audit and words answer them. ``CloudWatchWire`` inherits these calls; nothing here
decides what CloudWatch allows.

Enable, Disable and DeleteInsightRules answer a ``Failures`` list rather than an error: the
console names one rule a call, so its failure is raised as the refusal it is, in CloudWatch's
words (``ResourceNotFound``, "Rule X does not exist.").
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from andromede.console.wire import JsonWire, WireError
from andromede.http.response import Scope
from andromede.iam.model import Principal

__all__ = [
    "REPORT_METRICS",
    "Contributor",
    "InsightRuleCalls",
    "InsightRuleRow",
    "ReportPoint",
    "RuleReport",
]

# The metrics of each period a report asks for (GetInsightRuleReport's ``Metrics``).
REPORT_METRICS: Final = ("UniqueContributors", "MaxContributorValue", "SampleCount", "Sum")


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


@dataclass(frozen=True, slots=True)
class InsightRuleRow:
    """A rule as DescribeInsightRules tells it, with what its definition names (read for
    the page only: "" or empty where the definition does not parse)."""

    name: str
    state: str  # ENABLED or DISABLED
    schema: str
    definition: str  # as CloudWatch holds it
    managed: bool

    def _document(self) -> dict[str, Any]:
        try:
            document = json.loads(self.definition)
        except ValueError:
            return {}
        return document if isinstance(document, dict) else {}

    @property
    def log_groups(self) -> tuple[str, ...]:
        document = self._document()
        return _strings(document.get("LogGroupNames")) or _strings(document.get("LogGroupARNs"))

    @property
    def log_format(self) -> str:
        return str(self._document().get("LogFormat", ""))

    @property
    def aggregate_on(self) -> str:
        return str(self._document().get("AggregateOn", ""))

    @property
    def pretty(self) -> str:
        """The definition indented (as held when it is no JSON object)."""
        document = self._document()
        return json.dumps(document, indent=2) if document else self.definition


@dataclass(frozen=True, slots=True)
class Contributor:
    """One of a report's top contributors: its keys' values, its value over the range and its
    datapoints (period start in epoch seconds, value)."""

    keys: tuple[str, ...]
    value: float
    points: tuple[tuple[int, float], ...]


@dataclass(frozen=True, slots=True)
class ReportPoint:
    """One period of a report: its start (epoch seconds) and ``REPORT_METRICS``' values."""

    at: int
    values: dict[str, float]


@dataclass(frozen=True, slots=True)
class RuleReport:
    """GetInsightRuleReport's answer."""

    key_labels: tuple[str, ...]
    statistic: str  # Count or Sum
    aggregate_value: float
    unique_count: int
    contributors: tuple[Contributor, ...]
    points: tuple[ReportPoint, ...]


def _at(value: Any) -> int:
    return int(_number(value))


def _report(answer: dict[str, Any]) -> RuleReport:
    contributors = tuple(
        Contributor(
            keys=_strings(one.get("Keys")),
            value=_number(one.get("ApproximateAggregateValue")),
            points=tuple(
                sorted(
                    (_at(p.get("Timestamp")), _number(p.get("ApproximateValue")))
                    for p in one.get("Datapoints") or []
                    if isinstance(p, dict)
                )
            ),
        )
        for one in answer.get("Contributors") or []
        if isinstance(one, dict)
    )
    points = tuple(
        sorted(
            (
                ReportPoint(
                    _at(p.get("Timestamp")),
                    {m: _number(p[m]) for m in REPORT_METRICS if m in p},
                )
                for p in answer.get("MetricDatapoints") or []
                if isinstance(p, dict)
            ),
            key=lambda point: point.at,
        )
    )
    return RuleReport(
        key_labels=_strings(answer.get("KeyLabels")),
        statistic=str(answer.get("AggregationStatistic", "")),
        aggregate_value=_number(answer.get("AggregateValue")),
        unique_count=int(_number(answer.get("ApproximateUniqueCount"))),
        contributors=contributors,
        points=points,
    )


class InsightRuleCalls(JsonWire):
    """Contributor Insights' rule calls (``GraniteServiceVersion20100801`` JSON 1.0)."""

    async def insight_rules(
        self, origin: Scope, principal: Principal, *, token: str | None, limit: int
    ) -> tuple[list[InsightRuleRow], str | None]:
        """One page of DescribeInsightRules and the token of the next (None: the last)."""
        payload: dict[str, Any] = {"MaxResults": limit}
        if token:
            payload["NextToken"] = token
        answer = await self._json(origin, principal, "DescribeInsightRules", payload)
        rows = [
            InsightRuleRow(
                name=str(one.get("Name", "")),
                state=str(one.get("State", "")),
                schema=str(one.get("Schema", "")),
                definition=str(one.get("Definition", "")),
                managed=one.get("ManagedRule") is True,
            )
            for one in answer.get("InsightRules") or []
            if isinstance(one, dict)
        ]
        following = answer.get("NextToken")
        return rows, str(following) if following else None

    async def insight_rule(self, origin: Scope, principal: Principal, name: str) -> InsightRuleRow:
        """The rule named (DescribeInsightRules has no filter: its pages are read until it is
        found), else CloudWatch's ``ResourceNotFoundException`` words for an unknown rule."""
        token: str | None = None
        while True:
            rows, token = await self.insight_rules(origin, principal, token=token, limit=500)
            found = next((row for row in rows if row.name == name), None)
            if found is not None:
                return found
            if token is None:
                raise WireError("ResourceNotFoundException", f"Rule {name} does not exist.", 404)

    async def put_insight_rule(
        self, origin: Scope, principal: Principal, name: str, *, state: str, definition: str
    ) -> None:
        payload = {"RuleName": name, "RuleState": state, "RuleDefinition": definition}
        await self._json(origin, principal, "PutInsightRule", payload)

    async def change_insight_rule(
        self, origin: Scope, principal: Principal, action: str, name: str
    ) -> None:
        """``action``: EnableInsightRules, DisableInsightRules or DeleteInsightRules, of the
        one rule ``name``; its failure raised in CloudWatch's words."""
        answer = await self._json(origin, principal, action, {"RuleNames": [name]})
        for failure in answer.get("Failures") or []:
            if isinstance(failure, dict):
                code = str(failure.get("FailureCode") or failure.get("ExceptionType") or "")
                raise WireError(code, str(failure.get("FailureDescription", "")), 400)

    async def insight_rule_report(
        self,
        origin: Scope,
        principal: Principal,
        name: str,
        *,
        start: int,
        end: int,
        period: int,
        contributors: int,
    ) -> RuleReport:
        payload = {
            "RuleName": name,
            "StartTime": start,
            "EndTime": end,
            "Period": period,
            "MaxContributorCount": contributors,
            "Metrics": list(REPORT_METRICS),
            "OrderBy": "Sum",
        }
        return _report(await self._json(origin, principal, "GetInsightRuleReport", payload))
