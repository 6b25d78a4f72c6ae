"""Metric math's ``ANOMALY_DETECTION_BAND(m, stddevs)`` (decision 0189): the calls of an
expression, and the port through which the metrics service has their bands computed.

As SEARCH's series are (decision 0183), a band is read before the expression is evaluated:
:class:`~andromede.metrics.service.MetricsService` finds the calls with :func:`band_calls`,
asks its :class:`BandSource` (the anomaly detectors' service) for each, and the evaluator
answers each call with the two series given: the band's lower and upper edges.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Final, Protocol

from andromede.metrics.errors import InvalidParameterValue
from andromede.metrics.math_parse import Array, Binary, Call, Node, Number, Ref, Unary

if TYPE_CHECKING:
    from andromede.metrics.math_eval import SeriesArray
    from andromede.metrics.service import DataQuery

__all__ = ["BAND", "BandSource", "band_calls", "calls_named"]

BAND: Final = "ANOMALY_DETECTION_BAND"
_WIDEST: Final = 100.0


class BandSource(Protocol):
    async def band(
        self,
        tenant_id: str,
        ref: str,
        stddevs: float,
        queries: Sequence[DataQuery],
        low: int,
        high: int,
        period: int,
    ) -> SeriesArray:
        """The band of the query ``ref`` of ``queries`` over the periods of [low, high)."""
        ...


def band_calls(node: Node) -> list[tuple[Call, str, float]]:
    """The ``ANOMALY_DETECTION_BAND`` calls of an expression: each call, the Id of the query
    it models and its width in standard deviations (2 when not given, as AWS's default)."""
    return [(call, *_arguments(call)) for call in calls_named(node, BAND)]


def calls_named(node: Node, name: str) -> list[Call]:
    """The calls of function ``name`` in an expression (not those nested in one)."""
    found: list[Call] = []

    def walk(one: Node) -> None:
        if isinstance(one, Call):
            if one.name == name:
                found.append(one)
                return
            for arg in one.args:
                walk(arg)
        elif isinstance(one, Binary):
            walk(one.left)
            walk(one.right)
        elif isinstance(one, Unary):
            walk(one.operand)
        elif isinstance(one, Array):
            for item in one.items:
                walk(item)

    walk(node)
    return found


def _arguments(call: Call) -> tuple[str, float]:
    if not 1 <= len(call.args) <= 2 or not isinstance(call.args[0], Ref):
        raise InvalidParameterValue(
            f"{BAND} takes the Id of a query and, optionally, a number of standard deviations."
        )
    width = 2.0
    if len(call.args) == 2:
        arg = call.args[1]
        if not isinstance(arg, Number) or not 0 < arg.value <= _WIDEST:
            raise InvalidParameterValue(
                f"The width of {BAND} must be a number above 0 and at most {_WIDEST:g}."
            )
        width = arg.value
    return call.args[0].id, width
