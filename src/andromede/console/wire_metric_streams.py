"""CloudWatch's metric stream calls (decision 0233) the console's metric stream page makes
(decision 0239), in process as the signed-in principal through CloudWatch's JSON 1.0 protocol:
its authorisation (``cloudwatch:<Action>`` on the stream's ARN, ``iam:PassRole`` on the role
for PutMetricStream), checks, audit and errors answer them. ``CloudWatchWire`` inherits these
calls; nothing here decides what CloudWatch allows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from andromede.console.wire import JsonWire
from andromede.http.response import Scope
from andromede.iam.model import Principal

__all__ = ["MetricStreamCalls", "MetricStreamRow", "NamespaceFilter"]

# A namespace filter: the namespace and the metric names it is narrowed to (none: all).
NamespaceFilter = tuple[str, tuple[str, ...]]


def _when(value: Any) -> str:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return ""
    return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _filters(value: Any) -> list[NamespaceFilter]:
    if not isinstance(value, list):
        return []
    return [
        (
            str(f.get("Namespace", "")),
            tuple(str(n) for n in f.get("MetricNames") or [] if isinstance(n, str)),
        )
        for f in value
        if isinstance(f, dict)
    ]


@dataclass(frozen=True, slots=True)
class MetricStreamRow:
    """A metric stream as GetMetricStream tells it."""

    name: str
    arn: str
    state: str  # running or stopped
    firehose_arn: str
    role_arn: str
    output_format: str
    include: list[NamespaceFilter]
    exclude: list[NamespaceFilter]
    created: str
    updated: str

    @property
    def firehose_name(self) -> str:
        return self.firehose_arn.rsplit("/", 1)[-1]


def _stream(item: dict[str, Any]) -> MetricStreamRow:
    return MetricStreamRow(
        name=str(item.get("Name", "")),
        arn=str(item.get("Arn", "")),
        state=str(item.get("State", "")),
        firehose_arn=str(item.get("FirehoseArn", "")),
        role_arn=str(item.get("RoleArn", "")),
        output_format=str(item.get("OutputFormat", "")),
        include=_filters(item.get("IncludeFilters")),
        exclude=_filters(item.get("ExcludeFilters")),
        created=_when(item.get("CreationDate")),
        updated=_when(item.get("LastUpdateDate")),
    )


def _filter_shapes(filters: Sequence[NamespaceFilter]) -> list[dict[str, Any]]:
    return [
        {"Namespace": ns, **({"MetricNames": list(names)} if names else {})}
        for ns, names in filters
    ]


class MetricStreamCalls(JsonWire):
    """The metric stream calls, as ``principal`` (CloudWatch's wire has them)."""

    async def metric_stream_names(
        self, origin: Scope, principal: Principal, *, token: str | None, limit: int
    ) -> tuple[list[str], str | None]:
        """One page of ListMetricStreams' names, and the next page's token."""
        payload: dict[str, Any] = {"MaxResults": limit}
        if token:
            payload["NextToken"] = token
        answer = await self._json(origin, principal, "ListMetricStreams", payload)
        entries = answer.get("Entries")
        names = [
            str(e.get("Name", ""))
            for e in (entries if isinstance(entries, list) else [])
            if isinstance(e, dict)
        ]
        following = answer.get("NextToken")
        return names, str(following) if following else None

    async def metric_stream(
        self, origin: Scope, principal: Principal, name: str
    ) -> MetricStreamRow:
        return _stream(await self._json(origin, principal, "GetMetricStream", {"Name": name}))

    async def put_metric_stream(
        self,
        origin: Scope,
        principal: Principal,
        name: str,
        *,
        firehose_arn: str,
        role_arn: str,
        output_format: str,
        include: Sequence[NamespaceFilter] = (),
        exclude: Sequence[NamespaceFilter] = (),
    ) -> None:
        """PutMetricStream (the same name replaces the stream's settings, as AWS)."""
        payload: dict[str, Any] = {
            "Name": name,
            "FirehoseArn": firehose_arn,
            "RoleArn": role_arn,
            "OutputFormat": output_format,
        }
        if include:
            payload["IncludeFilters"] = _filter_shapes(include)
        if exclude:
            payload["ExcludeFilters"] = _filter_shapes(exclude)
        await self._json(origin, principal, "PutMetricStream", payload)

    async def set_metric_stream_running(
        self, origin: Scope, principal: Principal, name: str, *, running: bool
    ) -> None:
        action = "StartMetricStreams" if running else "StopMetricStreams"
        await self._json(origin, principal, action, {"Names": [name]})

    async def delete_metric_stream(self, origin: Scope, principal: Principal, name: str) -> None:
        await self._json(origin, principal, "DeleteMetricStream", {"Name": name})
