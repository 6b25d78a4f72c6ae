"""CloudWatch Logs metric filters (decision 0186, session 48 addendum): their rules, what an
event they match is worth, and the per-minute tally of those values before they are written
into the account's metrics. Pure: no I/O here.

A filter has one transformation (AWS's ``metricTransformations`` holds exactly one): the
metric's name and namespace (not ``AWS/``, the platform's), its value — a number, or a
selector (``$.field`` of a JSON pattern, ``$name`` of a space-delimited one) whose text is a
number —, at most three dimensions read by selectors, a unit, and a ``defaultValue`` (not
with dimensions, as AWS) reported for a minute when the group took events and none matched.
An event whose selected value is not a number, or which lacks a dimension's field, adds
nothing (AWS publishes no value it cannot read).

The tally keeps, per (account, namespace, metric, dimensions, unit, minute of the *event's*
timestamp, as AWS stamps the metric), the values seen and how often, so the metrics service
receives exact values and counts (its percentiles stay true), bounded by ``max_keys``.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from andromede.logs.errors import InvalidParameter
from andromede.logs.filter import FilterPattern, PatternMatch, compile_pattern

__all__ = [
    "UNITS",
    "MetricFilter",
    "MetricSample",
    "MetricTally",
    "MetricTransformation",
    "check_filter_name",
    "filters_position",
    "metric_filter",
    "observe",
    "test_pattern",
]

MAX_DIMENSIONS: Final = 3
MAX_PATTERN: Final = 1024
UNITS: Final = frozenset(
    """Seconds Microseconds Milliseconds Bytes Kilobytes Megabytes Gigabytes Terabytes Bits
    Kilobits Megabits Gigabits Terabits Percent Count Bytes/Second Kilobytes/Second
    Megabytes/Second Gigabytes/Second Terabytes/Second Bits/Second Kilobits/Second
    Megabits/Second Gigabits/Second Terabits/Second Count/Second None""".split()
)
_NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")
_SELECTOR = re.compile(r"\$(?:\.[A-Za-z0-9_\-@]+(?:\[(?:\d+)\])*)+|\$[A-Za-z_][A-Za-z0-9_\-]*")


@dataclass(frozen=True, slots=True)
class MetricTransformation:
    metric_name: str
    namespace: str
    value: str
    default_value: float | None = None
    dimensions: dict[str, str] = field(default_factory=dict)
    unit: str | None = None

    def shape(self) -> dict[str, Any]:
        """As AWS answers it in DescribeMetricFilters."""
        shape: dict[str, Any] = {
            "metricName": self.metric_name,
            "metricNamespace": self.namespace,
            "metricValue": self.value,
        }
        if self.default_value is not None:
            shape["defaultValue"] = self.default_value
        if self.dimensions:
            shape["dimensions"] = dict(self.dimensions)
        if self.unit is not None:
            shape["unit"] = self.unit
        return shape


@dataclass(frozen=True, slots=True)
class MetricFilter:
    tenant_id: str
    group: str
    name: str
    pattern: str
    transformation: MetricTransformation
    created: int


def _invalid(name: str, why: str) -> InvalidParameter:
    return InvalidParameter(
        f"1 validation error detected: Value at '{name}' failed to satisfy constraint: {why}"
    )


def check_filter_name(name: object, parameter: str = "filterName") -> str:
    if not isinstance(name, str) or not 1 <= len(name) <= 512 or ":" in name or "*" in name:
        raise _invalid(
            parameter, "Member must satisfy regular expression pattern: [^:*]* and have length "
            "between 1 and 512"
        )  # fmt: skip
    return name


def _metric_text(value: object, parameter: str) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= 255:
        raise _invalid(parameter, "Member must have length between 1 and 255")
    if any(c in value for c in ":*$"):
        raise _invalid(parameter, "Member must satisfy regular expression pattern: [^:*$]*")
    return value


def _selector(value: str, pattern: FilterPattern, parameter: str) -> str:
    if _SELECTOR.fullmatch(value) is None:
        raise InvalidParameter(f"{parameter} {value[:100]!r} is neither a number nor a selector")
    if not (pattern.delimited or pattern.json):
        raise InvalidParameter(
            f"{parameter} {value[:100]!r}: a selector needs a JSON or space-delimited pattern"
        )
    if value.startswith("$.") == pattern.delimited:
        kind = "a space-delimited pattern's $name" if pattern.delimited else "a JSON $.field"
        raise InvalidParameter(f"{parameter} {value[:100]!r} must be {kind} selector")
    return value


def metric_filter(
    tenant_id: str, group: str, name: object, pattern: object, raw: object, created: int
) -> MetricFilter:
    """PutMetricFilter's parameters checked as AWS checks them."""
    filter_name = check_filter_name(name)
    if not isinstance(pattern, str) or len(pattern) > MAX_PATTERN:
        raise _invalid(
            "filterPattern", f"Member must have length less than or equal to {MAX_PATTERN}"
        )
    compiled = compile_pattern(pattern)
    if not isinstance(raw, list) or len(raw) != 1 or not isinstance(raw[0], dict):
        raise _invalid("metricTransformations", "Member must have length equal to 1")
    given: dict[str, Any] = raw[0]
    metric_name = _metric_text(given.get("metricName"), "metricTransformations.1.member.metricName")
    namespace = _metric_text(
        given.get("metricNamespace"), "metricTransformations.1.member.metricNamespace"
    )
    if namespace.startswith("AWS/"):
        raise InvalidParameter("The AWS/ namespaces are reserved: metricNamespace cannot be one.")
    value = given.get("metricValue")
    if not isinstance(value, str) or not 1 <= len(value) <= 100:
        raise _invalid("metricTransformations.1.member.metricValue", "Member must have length "
                       "between 1 and 100")  # fmt: skip
    if _NUMBER.fullmatch(value) is None:
        _selector(value, compiled, "metricValue")
    elif not math.isfinite(float(value)):
        raise InvalidParameter("metricValue must be a finite number")
    default = given.get("defaultValue")
    if default is not None and (
        isinstance(default, bool)
        or not isinstance(default, int | float)
        or not math.isfinite(default)
    ):
        raise InvalidParameter("defaultValue must be a number")
    dimensions = given.get("dimensions") or {}
    if not isinstance(dimensions, dict) or len(dimensions) > MAX_DIMENSIONS:
        raise InvalidParameter(f"A metric transformation has at most {MAX_DIMENSIONS} dimensions")
    for key, selector in dimensions.items():
        if not isinstance(key, str) or not 1 <= len(key) <= 255:
            raise InvalidParameter("A dimension's name has 1 to 255 characters")
        if not isinstance(selector, str):
            raise InvalidParameter(f"Dimension {key[:64]!r} must name a selector")
        _selector(selector, compiled, f"Dimension {key[:64]!r}")
    if dimensions and default is not None:
        raise InvalidParameter(
            "You cannot specify a default value for a metric filter that has dimensions."
        )
    unit = given.get("unit")
    if unit is not None and (not isinstance(unit, str) or unit not in UNITS):
        raise InvalidParameter(f"unit {str(unit)[:64]!r} is not a CloudWatch unit")
    if given.get("applyOnTransformedLogs") not in (None, False):
        raise InvalidParameter("applyOnTransformedLogs: log transformers are not served here")
    transformation = MetricTransformation(
        metric_name,
        namespace,
        value,
        None if default is None else float(default),
        dict(dimensions),
        unit,
    )
    return MetricFilter(tenant_id, group, filter_name, pattern, transformation, created)


def observe(
    transformation: MetricTransformation, found: PatternMatch
) -> tuple[float, tuple[tuple[str, str], ...]] | None:
    """What an event the pattern matched adds to the metric: its value and dimensions, or
    None when a selected value is not a number or a dimension's field is absent."""
    if transformation.value.startswith("$"):
        text = found.selected(transformation.value)
        if text is None or _NUMBER.fullmatch(text.strip()) is None:
            return None
        value = float(text)
        if not math.isfinite(value):
            return None
    else:
        value = float(transformation.value)
    dimensions: list[tuple[str, str]] = []
    for key, selector in sorted(transformation.dimensions.items()):
        shown = found.selected(selector)
        if shown is None or shown == "":
            return None
        dimensions.append((key, shown[:1024]))
    return value, tuple(dimensions)


@dataclass(frozen=True, slots=True)
class MetricSample:
    """One minute of one metric of an account: its values and how often each was seen."""

    tenant_id: str
    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...]
    unit: str | None
    minute: int  # seconds since the epoch, a multiple of 60
    values: tuple[tuple[float, float], ...]


_Key = tuple[str, str, str, tuple[tuple[str, str], ...], str | None, int]


class MetricTally:
    """The values the metric filters saw since the last :meth:`drain`, per minute."""

    def __init__(self, max_keys: int = 100_000) -> None:
        self._values: dict[_Key, Counter[float]] = {}
        self._defaults: dict[_Key, float] = {}
        # Beyond this many pending minutes of series, new ones are dropped rather than let a
        # stuck metrics store grow the gateway's memory without end.
        self._max_keys = max_keys
        self.dropped = 0

    def add(
        self,
        tenant_id: str,
        transformation: MetricTransformation,
        dimensions: tuple[tuple[str, str], ...],
        timestamp_ms: int,
        value: float,
    ) -> None:
        key = self._key(tenant_id, transformation, dimensions, timestamp_ms)
        held = self._values.get(key)
        if held is None:
            if len(self._values) + len(self._defaults) >= self._max_keys:
                self.dropped += 1
                return
            held = self._values[key] = Counter()
        held[value] += 1

    def add_default(
        self, tenant_id: str, transformation: MetricTransformation, timestamp_ms: int
    ) -> None:
        """The group took events in this minute that the filter did not match: its default
        value counts for the minute unless a value of its own comes."""
        if transformation.default_value is None:
            return
        key = self._key(tenant_id, transformation, (), timestamp_ms)
        if key not in self._defaults and len(self._values) + len(self._defaults) < self._max_keys:
            self._defaults[key] = transformation.default_value

    @staticmethod
    def _key(
        tenant_id: str,
        transformation: MetricTransformation,
        dimensions: tuple[tuple[str, str], ...],
        timestamp_ms: int,
    ) -> _Key:
        seconds = timestamp_ms // 1000
        return (
            tenant_id,
            transformation.namespace,
            transformation.metric_name,
            dimensions,
            transformation.unit,
            seconds - seconds % 60,
        )

    def __len__(self) -> int:
        return len(self._values) + len(self._defaults)

    def drain(self) -> list[MetricSample]:
        values, self._values = self._values, {}
        defaults, self._defaults = self._defaults, {}
        samples = [
            MetricSample(*key, values=tuple(sorted(counts.items())))
            for key, counts in values.items()
        ]
        samples.extend(
            MetricSample(*key, values=((default, 1.0),))
            for key, default in defaults.items()
            if key not in values
        )
        return samples


_MAX_TEST_MESSAGES = 50  # AWS's bound on TestMetricFilter's logEventMessages


def test_pattern(pattern: str, messages: Sequence[str]) -> list[tuple[int, str, dict[str, str]]]:
    """TestMetricFilter: (event number from 1, message, extracted values) of each match."""
    if not 1 <= len(messages) <= _MAX_TEST_MESSAGES:
        raise InvalidParameter(
            f"logEventMessages must hold between 1 and {_MAX_TEST_MESSAGES} messages"
        )
    if any(not m for m in messages):
        raise InvalidParameter("A log event message must not be empty")
    compiled = compile_pattern(pattern)
    matches = []
    for number, message in enumerate(messages, start=1):
        found = compiled.extract(message)
        if found is not None:
            matches.append((number, message, found.extracted))
    return matches


def filters_position(token: str) -> tuple[str, str]:
    """The (group, name) DescribeMetricFilters' ``nextToken`` names."""
    try:
        group, name = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, TypeError, binascii.Error, UnicodeError):
        raise InvalidParameter("The specified nextToken is invalid.") from None
    if not isinstance(group, str) or not isinstance(name, str):
        raise InvalidParameter("The specified nextToken is invalid.")
    return group, name
