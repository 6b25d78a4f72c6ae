"""Metric math's ``SEARCH()`` in GetMetricData (decision 0183), bounded: the search
expression's subset this module understands, and the matching of a series against it.

``SEARCH('{Namespace,Dim1,Dim2} MetricName="Errors" Dim1="a" word', 'Stat', period)``:

- the schema ``{Namespace,Dim…}`` (optional) keeps the series of that namespace whose
  dimension names are exactly those listed;
- ``Key="value"`` (or ``Key=value``) terms keep the series whose ``MetricName``,
  ``Namespace`` or dimension ``Key`` equals the value;
- a bare word (or quoted phrase) keeps the series holding it as its namespace, name, or a
  dimension's name or value.

Terms are joined by AND. ``OR``, ``NOT``, parentheses and partial matches are refused with
``InvalidParameterValue``, as are searches in alarms (AWS refuses those too). The series
looked at are bounded by the service (pages of the account's metrics) and the series kept by
``metrics_math_max_series``.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Final

from andromede.metrics.errors import InvalidParameterValue
from andromede.metrics.math_eval import SeriesArray, TimeSeries
from andromede.metrics.math_parse import Array, Binary, Call, Node, Number, Text, Unary
from andromede.metrics.model import Series
from andromede.metrics.store import MetricStore

__all__ = ["Search", "search_series", "searches_in"]

# Pages of the account's metrics one SEARCH looks at, at most (as ListMetrics' one call).
_PAGES: Final = 8

_SCHEMA: Final = re.compile(r"^\s*\{([^{}]*)\}")
_TERM: Final = re.compile(
    r'\s*(?:([A-Za-z0-9_./:-]+)\s*=\s*("[^"]*"|[^\s"()]+)|("[^"]*")|([^\s"()=]+))'
)


@dataclass(frozen=True, slots=True)
class Search:
    """One SEARCH call of a request: its text, statistic and period, and the terms parsed."""

    text: str
    stat: str
    period: int
    namespace: str | None = None
    schema: frozenset[str] | None = None
    pairs: tuple[tuple[str, str], ...] = ()
    words: tuple[str, ...] = field(default=())

    @staticmethod
    def of(text: str, stat: str, period: int) -> Search:
        rest = text
        namespace: str | None = None
        schema: frozenset[str] | None = None
        found = _SCHEMA.match(rest)
        if found is not None:
            parts = [p.strip().strip('"') for p in found.group(1).split(",")]
            if not parts or not parts[0]:
                raise _refuse(text, "the schema {…} must name a namespace")
            namespace, schema = parts[0], frozenset(p for p in parts[1:] if p)
            rest = rest[found.end() :]
        pairs: list[tuple[str, str]] = []
        words: list[str] = []
        at = 0
        while rest[at:].strip():
            term = _TERM.match(rest, at)
            if term is None or term.end() == at:
                raise _refuse(text, f"cannot read the search from {rest[at:].strip()[:64]!r}")
            key, value, quoted, bare = term.groups()
            if key is not None:
                pairs.append((key, value.strip('"')))
            elif quoted is not None:
                words.append(quoted.strip('"'))
            else:
                if bare.upper() in ("AND", "OR", "NOT") or "*" in bare:
                    if bare.upper() == "AND":
                        at = term.end()
                        continue
                    raise _refuse(text, f"{bare} is not supported in a search here")
                words.append(bare)
            at = term.end()
        return Search(text, stat, period, namespace, schema, tuple(pairs), tuple(words))

    def matches(self, namespace: str, name: str, dimensions: tuple[tuple[str, str], ...]) -> bool:
        held = dict(dimensions)
        if self.namespace is not None and namespace != self.namespace:
            return False
        if self.schema is not None and frozenset(held) != self.schema:
            return False
        for key, value in self.pairs:
            if key == "MetricName":
                if name != value:
                    return False
            elif key == "Namespace":
                if namespace != value:
                    return False
            elif held.get(key) != value:
                return False
        every = {namespace, name, *held, *held.values()}
        return all(word in every for word in self.words)


def _refuse(text: str, why: str) -> InvalidParameterValue:
    return InvalidParameterValue(f"Error in search expression '{text[:256]}': {why}.")


def searches_in(node: Node, default_period: int) -> list[tuple[Call, Search]]:
    """Every SEARCH call of a tree with literal arguments, parsed."""
    found: list[tuple[Call, Search]] = []
    if isinstance(node, Call):
        if node.name == "SEARCH":
            args = node.args
            if not 2 <= len(args) <= 3 or not all(isinstance(a, Text) for a in args[:2]):
                raise InvalidParameterValue(
                    "SEARCH takes a search expression, a statistic and an optional period: "
                    "SEARCH('{AWS/EC2,InstanceId} MetricName=\"CPUUtilization\"', 'Average', "
                    "300)."
                )
            period = default_period
            if len(args) == 3:
                third = args[2]
                if not isinstance(third, Number) or not third.value.is_integer():
                    raise InvalidParameterValue("The period of a SEARCH is a whole number.")
                period = int(third.value)
            text, stat = args[0], args[1]
            assert isinstance(text, Text) and isinstance(stat, Text)  # noqa: S101 (checked above)
            found.append((node, Search.of(text.value, stat.value, period)))
        for child in node.args:
            found.extend(searches_in(child, default_period))
    elif isinstance(node, Unary):
        found.extend(searches_in(node.operand, default_period))
    elif isinstance(node, Binary):
        found.extend(searches_in(node.left, default_period))
        found.extend(searches_in(node.right, default_period))
    elif isinstance(node, Array):
        for child in node.items:
            found.extend(searches_in(child, default_period))
    return found


async def search_series(
    store: MetricStore,
    tenant_id: str,
    search: Search,
    read: Callable[[Series], Awaitable[dict[int, float]]],
    *,
    page: int,
    most: int,
) -> tuple[SeriesArray, bool]:
    """A SEARCH's series: the account's metrics matched page by page (``_PAGES`` pages of
    ``page`` at most, narrowed by the schema's namespace and a MetricName term), each read
    by ``read``, at most ``most``; and whether a bound cut the answer."""
    name = next((v for k, v in search.pairs if k == "MetricName"), None)
    after: tuple[str, str, str] | None = None
    found: list[TimeSeries] = []
    for _ in range(_PAGES):
        chunk = await store.list_series(tenant_id, search.namespace, name, after, None, page)
        for stored in chunk:
            one = stored.series
            after = (one.namespace, one.name, one.dimensions_hash)
            if not search.matches(one.namespace, one.name, one.dimensions):
                continue
            if len(found) == most:
                return SeriesArray(found), True
            label = " ".join([one.name, *(v for _, v in one.dimensions)])
            found.append(TimeSeries(label, search.period, await read(one)))
        if len(chunk) < page:
            return SeriesArray(found), False
    return SeriesArray(found), True
