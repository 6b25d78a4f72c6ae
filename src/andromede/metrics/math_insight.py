"""Metric math's ``INSIGHT_RULE_METRIC(rule, metric)`` (decision 0272): the calls of an
expression, and the port through which the metrics service reads a Contributor Insights
rule's metric — one of ``UniqueContributors``, ``MaxContributorValue``, ``SampleCount``,
``Sum``, ``Minimum``, ``Maximum``, ``Average`` — as a series of the expression's period.

As ANOMALY_DETECTION_BAND's bands are (decision 0189), the series is read before the
expression is evaluated: :class:`~andromede.metrics.service.MetricsService` finds the calls
with :func:`insight_calls` and asks its :class:`InsightSource` (the rules' service).
"""

from __future__ import annotations

from typing import Final, Protocol

from andromede.metrics.errors import InvalidParameterValue
from andromede.metrics.math_band import calls_named
from andromede.metrics.math_parse import Call, Keyword, Node, Ref, Text

__all__ = ["INSIGHT", "InsightSource", "insight_calls"]

INSIGHT: Final = "INSIGHT_RULE_METRIC"


class InsightSource(Protocol):
    async def rule_metric(
        self, tenant_id: str, rule: str, metric: str, low: int, high: int, period: int
    ) -> dict[int, float]:
        """The rule's ``metric`` in each period of [low, high) (seconds) that has data."""
        ...


def _word(node: Node, text: str) -> str:
    """A name, quoted or not: a bare one as written (the parser upper-cases keywords, and a
    rule's name is case sensitive)."""
    if isinstance(node, Text):
        return node.value
    if isinstance(node, Ref):
        return node.id
    if isinstance(node, Keyword):
        return text[node.at - 1 : node.at - 1 + len(node.name)]
    raise InvalidParameterValue(f"{INSIGHT} takes a rule's name and a metric's name.")


def insight_calls(node: Node, text: str) -> list[tuple[Call, str, str]]:
    """Each ``INSIGHT_RULE_METRIC`` call of the expression ``text``, with its rule and metric
    names."""
    found = []
    for call in calls_named(node, INSIGHT):
        if len(call.args) != 2:
            raise InvalidParameterValue(f"{INSIGHT} takes a rule's name and a metric's name.")
        found.append((call, _word(call.args[0], text), _word(call.args[1], text)))
    return found
