"""The metric streams' operations (decision 0233): PutMetricStream's checks, as AWS's API
reference states them, and the reads, deletes, starts, stops and tags of an account's streams.

What is refused, in CloudWatch's codes: a name of other than 1 to 255 of ``A-Za-z0-9_-``; a
Firehose ARN that is not a delivery stream of the account in this Region, a role ARN that is
not an IAM role of the account; an output format this platform does not produce (only
``json``: the OpenTelemetry formats need a protobuf encoder it does not ship); both
``IncludeFilters`` and ``ExcludeFilters``; more than ``max_filter_names`` names in the filters
(namespaces and metric names together, as AWS counts them); more than ``max_statistics_metrics``
metrics in a statistics configuration, or more than 20 additional statistics, or one that is
not a percentile (the only ones the stored histograms give); ``IncludeLinkedAccountsMetrics``
true (no cross-account observability here). A new stream starts ``running``; an update keeps
its state, creation date and tags (AWS ignores an update's ``Tags``)."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Final

from andromede.metrics.errors import (
    InvalidNextToken,
    InvalidParameterCombination,
    InvalidParameterValue,
    LimitExceeded,
    MissingParameter,
    ResourceNotFound,
)
from andromede.metrics.model import percentile_of
from andromede.metrics.streams import (
    JSON,
    RUNNING,
    MetricStream,
    MetricStreamStore,
    StatisticsConfiguration,
    StreamFilter,
    metric_stream_arn,
)

__all__ = ["MetricStreamService", "StreamLimits"]

_NAME: Final = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
_OPENTELEMETRY: Final = frozenset({"opentelemetry1.0", "opentelemetry0.7"})
_MAX_STATISTICS: Final = 20  # AWS's AdditionalStatistics bound
_MAX_TAGS: Final = 50


@dataclass(frozen=True, slots=True)
class StreamLimits:
    max_per_account: int = 1000
    max_filter_names: int = 1000
    max_statistics_metrics: int = 100
    list_page: int = 500


def _now() -> datetime:
    return datetime.now(UTC)


def _required(params: Mapping[str, Any], name: str) -> Any:
    value = params.get(name)
    if value is None or value == "" or value == []:
        raise MissingParameter(f"The parameter {name} is required.")
    return value


def check_name(name: Any) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidParameterValue(
            "The value for parameter Name must be 1 to 255 characters of A-Z, a-z, 0-9, - and _."
        )
    return name


def _filters(items: Sequence[Mapping[str, Any]], member: str) -> tuple[StreamFilter, ...]:
    found = []
    for item in items:
        namespace = item.get("Namespace")
        if not namespace:
            raise MissingParameter(f"Each of {member} needs a Namespace.")
        if len(namespace) > 255 or namespace.startswith(":"):
            raise InvalidParameterValue(f"The namespace {namespace[:64]} is not valid.")
        names = tuple(item.get("MetricNames") or ())
        for name in names:
            if not 1 <= len(name) <= 255 or not name.isprintable() or not name.strip():
                raise InvalidParameterValue(f"The metric name {name[:64]!r} is not valid.")
        found.append(StreamFilter(namespace, names))
    return tuple(found)


def _statistics(
    items: Sequence[Mapping[str, Any]], limit: int
) -> tuple[StatisticsConfiguration, ...]:
    found = []
    for item in items:
        metrics = _required(item, "IncludeMetrics")
        statistics = _required(item, "AdditionalStatistics")
        if len(metrics) > limit:
            raise InvalidParameterValue(
                f"A statistics configuration may list {limit} metrics at most."
            )
        if len(statistics) > _MAX_STATISTICS:
            raise InvalidParameterValue(
                f"A statistics configuration may list {_MAX_STATISTICS} statistics at most."
            )
        pairs = []
        for metric in metrics:
            pairs.append((_required(metric, "Namespace"), _required(metric, "MetricName")))
        for statistic in statistics:
            if percentile_of(statistic) is None:
                raise InvalidParameterValue(
                    f"The statistic {statistic[:64]} is not supported here: only percentiles "
                    "(p0.0 to p100) are streamed (decision 0233)."
                )
        found.append(StatisticsConfiguration(tuple(pairs), tuple(dict.fromkeys(statistics))))
    return tuple(found)


def _tags(items: Sequence[Mapping[str, Any]]) -> tuple[tuple[str, str], ...]:
    tags: dict[str, str] = {}
    for item in items:
        key, value = _required(item, "Key"), item.get("Value")
        if value is None:
            raise MissingParameter("Each tag must have a Key and a Value.")
        if not 1 <= len(key) <= 128 or len(value) > 256 or key.startswith("aws:"):
            raise InvalidParameterValue(f"The tag {key[:128]!r} is not valid.")
        tags[key] = value
    if len(tags) > _MAX_TAGS:
        raise InvalidParameterValue(f"A metric stream may hold {_MAX_TAGS} tags at most.")
    return tuple(sorted(tags.items()))


def _token(name: str) -> str:
    return base64.urlsafe_b64encode(name.encode()).decode()


def _after(token: str | None) -> str:
    if token is None:
        return ""
    try:
        return check_name(base64.urlsafe_b64decode(token.encode()).decode())
    except (binascii.Error, UnicodeError, ValueError, InvalidParameterValue) as exc:
        raise InvalidNextToken("The next token is not valid.") from exc


class MetricStreamService:
    def __init__(
        self,
        store: MetricStreamStore,
        region: str,
        limits: StreamLimits | None = None,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.store = store
        self.region = region
        self.limits = limits or StreamLimits()
        self._clock = clock

    def arn(self, tenant_id: str, name: str) -> str:
        return metric_stream_arn(self.region, tenant_id, name)

    def _check_arns(self, tenant_id: str, firehose_arn: str, role_arn: str) -> None:
        prefix = f"arn:aws:firehose:{self.region}:{tenant_id}:deliverystream/"
        if not firehose_arn.startswith(prefix) or len(firehose_arn) == len(prefix):
            raise InvalidParameterValue(
                f"FirehoseArn must be a Firehose delivery stream of account {tenant_id} in "
                f"{self.region}."
            )
        prefix = f"arn:aws:iam::{tenant_id}:role/"
        if not role_arn.startswith(prefix) or len(role_arn) == len(prefix):
            raise InvalidParameterValue(f"RoleArn must be an IAM role of account {tenant_id}.")
        if max(len(firehose_arn), len(role_arn)) > 1024:
            raise InvalidParameterValue("An ARN may be 1024 characters at most.")

    async def put(self, tenant_id: str, params: Mapping[str, Any]) -> str:
        """PutMetricStream; the stream's ARN."""
        name = check_name(_required(params, "Name"))
        firehose_arn = _required(params, "FirehoseArn")
        role_arn = _required(params, "RoleArn")
        output_format = _required(params, "OutputFormat")
        if output_format in _OPENTELEMETRY:
            raise InvalidParameterValue(
                f"The output format {output_format} is not supported here: metric streams "
                "produce json only (decision 0233)."
            )
        if output_format != JSON:
            raise InvalidParameterValue(
                f"The value {output_format[:64]} for parameter OutputFormat is not valid: "
                "json, opentelemetry1.0 or opentelemetry0.7."
            )
        self._check_arns(tenant_id, firehose_arn, role_arn)
        if params.get("IncludeFilters") and params.get("ExcludeFilters"):
            raise InvalidParameterCombination(
                "You cannot specify both IncludeFilters and ExcludeFilters."
            )
        include = _filters(params.get("IncludeFilters") or (), "IncludeFilters")
        exclude = _filters(params.get("ExcludeFilters") or (), "ExcludeFilters")
        names = sum(1 + len(f.metric_names) for f in (*include, *exclude))
        if names > self.limits.max_filter_names:
            raise InvalidParameterValue(
                f"A metric stream's filters may hold {self.limits.max_filter_names} names at "
                "most (namespaces and metric names together)."
            )
        statistics = _statistics(
            params.get("StatisticsConfigurations") or (), self.limits.max_statistics_metrics
        )
        if params.get("IncludeLinkedAccountsMetrics"):
            raise InvalidParameterValue("Cross-account observability is not supported.")
        tags = _tags(params.get("Tags") or ())
        now = self._clock()
        held = await self.store.get(tenant_id, name)
        stream = MetricStream(
            tenant_id=tenant_id,
            name=name,
            firehose_arn=firehose_arn,
            role_arn=role_arn,
            output_format=output_format,
            state=RUNNING if held is None else held.state,
            created=now if held is None else held.created,
            updated=now,
            include=include,
            exclude=exclude,
            statistics=statistics,
            tags=tags if held is None else held.tags,
        )
        if not await self.store.put(stream, self.limits.max_per_account):
            raise LimitExceeded(
                f"An account may hold {self.limits.max_per_account} metric streams."
            )
        return self.arn(tenant_id, name)

    async def get(self, tenant_id: str, name: Any) -> MetricStream:
        stream = await self.store.get(tenant_id, check_name(_required({"Name": name}, "Name")))
        if stream is None:
            raise ResourceNotFound(f"The metric stream {name} does not exist.")
        return stream

    async def page(
        self, tenant_id: str, max_results: int | None, token: str | None
    ) -> tuple[list[MetricStream], str | None]:
        limit = self.limits.list_page if max_results is None else max_results
        if not 1 <= limit <= self.limits.list_page:
            raise InvalidParameterValue(
                f"MaxResults must be between 1 and {self.limits.list_page}."
            )
        found = await self.store.page(tenant_id, _after(token), limit + 1)
        if len(found) > limit:
            return found[:limit], _token(found[limit - 1].name)
        return found, None

    async def delete(self, tenant_id: str, name: Any) -> None:
        """As AWS: deleting a stream that is not there succeeds."""
        await self.store.delete(tenant_id, check_name(_required({"Name": name}, "Name")))

    async def set_state(self, tenant_id: str, names: Any, state: str) -> None:
        """StartMetricStreams / StopMetricStreams: the names that exist change; as AWS, the
        others are no error."""
        wanted = [check_name(n) for n in _required({"Names": names}, "Names")]
        await self.store.set_state(tenant_id, wanted, state, self._clock())

    async def retag(
        self, tenant_id: str, name: str, add: Sequence[tuple[str, str]], remove: Sequence[str]
    ) -> tuple[tuple[str, str], ...]:
        """TagResource / UntagResource on a stream (ListTagsForResource with neither)."""
        stream = await self.get(tenant_id, name)
        if not add and not remove:
            return stream.tags
        tags = dict(stream.tags)
        tags.update(_tags([{"Key": k, "Value": v} for k, v in add]))
        for key in remove:
            tags.pop(key, None)
        changed = _tags([{"Key": k, "Value": v} for k, v in tags.items()])
        await self.store.put(replace(stream, tags=changed), self.limits.max_per_account)
        return changed
