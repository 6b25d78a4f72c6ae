"""The CloudWatch Logs service (decision 0186), the only public entry of the context: groups
with their retention, KMS key and tags; streams; events appended under AWS's batch rules,
sealed at rest, read back by position (GetLogEvents) or by pattern (FilterLogEvents); and
the retention sweep ``serve`` runs; the groups' metric filters (session 48), matched against
every accepted event at PutLogEvents — the filters of a group read from a cache kept
``metric_filter_cache_ms``, so the hot path reads no table per call — their values tallied
per minute for :meth:`LogsService.drain_metrics`, which the wiring writes into the account's
metrics. The reads of events are ``logs.reading``'s, this class's base. Authorisation is the
wire layer's; ``tenant_id`` is the account the caller acts in."""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import json
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence

from andromede.logs.data_protection import Finding, encode_spans, findings_report, mask
from andromede.logs.errors import InvalidParameter, ResourceAlreadyExists, ResourceNotFound
from andromede.logs.filter import FilterPattern, compile_pattern
from andromede.logs.index_policies import IndexPolicies
from andromede.logs.log_classes import STANDARD, check_log_class, refuse_infrequent_access
from andromede.logs.metric_filters import (
    MetricFilter,
    MetricSample,
    MetricTally,
    check_filter_name,
    filters_position,
    metric_filter,
    observe,
    test_pattern,
)
from andromede.logs.model import (
    RETENTION_DAYS,
    Batch,
    InputEvent,
    LogGroup,
    LogsLimits,
    LogStream,
    StoredEvent,
    check_batch,
    check_group_name,
    check_stream_name,
    check_tags,
)
from andromede.logs.protection import FINDINGS_METRIC, DataProtection, GroupProtection, audit_time
from andromede.logs.reading import EventReading, LogEvent
from andromede.logs.resource_policies import ResourcePolicy, check_policy
from andromede.logs.sealing import LogSealer, event_context
from andromede.logs.store import FilterQuery, LogStore
from andromede.logs.subscriptions import GroupSubscriber

__all__ = ["LogEvent", "LogsLimits", "LogsService"]

_MAX_TAGS = 50
_FILTERS_PAGE = 50  # DescribeMetricFilters' limit: its default and ceiling, as AWS's
_CACHED_GROUPS = 10_000  # groups whose filters a gateway keeps at most


def _now_ms() -> int:
    return int(time.time() * 1000)


class LogsService(EventReading):
    def __init__(
        self,
        store: LogStore,
        sealer: LogSealer,
        region: str,
        limits: LogsLimits | None = None,
        clock: Callable[[], int] = _now_ms,
    ) -> None:
        self.store = store  # read by the billing sampler too (decision 0224)
        self._sealer = sealer
        self.region = region
        self.limits = limits or LogsLimits()
        self._clock = clock
        self._filters: dict[tuple[str, str], tuple[int, list[tuple[MetricFilter, FilterPattern]]]]
        self._filters = {}
        self.tally = MetricTally(self.limits.metric_tally_keys)
        # What else a closed tenant leaves in the context's other stores (its export
        # tasks): the wiring adds their deletions, run by forget_tenant.
        self.forgetters: list[Callable[[str], Awaitable[int]]] = []
        # Data protection policies (decision 0211): the account's cached as the filters are.
        self.protection = DataProtection(store, clock, self.limits.metric_filter_cache_ms, region)
        self.subscribers: list[GroupSubscriber] = []  # subscription filters (decision 0225)
        self.indexes = IndexPolicies(store, clock, region)  # field index policies (0232)

    # Groups.

    async def create_group(
        self,
        tenant_id: str,
        name: str,
        kms_key_id: str | None,
        tags: Mapping[str, str],
        log_class: str = STANDARD,
        deletion_protection: bool = False,
    ) -> LogGroup:
        check_group_name(name)
        if len(tags) > _MAX_TAGS:
            raise InvalidParameter(f"A log group can have at most {_MAX_TAGS} tags")
        check_log_class(log_class)
        if kms_key_id is not None:
            await self._sealer.check_key(tenant_id, kms_key_id)
        group = LogGroup(
            tenant_id,
            name,
            self._clock(),
            None,
            kms_key_id,
            check_tags(tags),
            log_class=log_class,
            deletion_protection=deletion_protection,
        )
        await self.store.create_group(group, self.limits.max_groups)
        return group

    async def group(self, tenant_id: str, name: str) -> LogGroup:
        check_group_name(name)
        found = await self.store.get_group(tenant_id, name)
        if found is None:
            raise ResourceNotFound("The specified log group does not exist.")
        return found

    async def delete_group(self, tenant_id: str, name: str) -> None:
        check_group_name(name)
        if not await self.store.delete_group(tenant_id, name, honour_protection=True):
            raise ResourceNotFound("The specified log group does not exist.")
        self._filters.pop((tenant_id, name), None)  # its filters went with it
        for subscriber in self.subscribers:
            await subscriber.group_deleted(tenant_id, name)

    async def protect_group(self, tenant_id: str, name: str, enabled: bool) -> None:
        """PutLogGroupDeletionProtection: while on, the group and its streams are not
        deleted (but by the account's closure); retention still expires events."""
        check_group_name(name, "logGroupIdentifier")
        if not await self.store.set_deletion_protection(tenant_id, name, enabled):
            raise ResourceNotFound("The specified log group does not exist.")

    async def describe_groups(
        self,
        tenant_id: str,
        prefix: str,
        pattern: str,
        limit: int | None,
        token: str | None,
        log_class: str | None = None,
    ) -> tuple[list[LogGroup], str | None]:
        if prefix and pattern:
            raise InvalidParameter(
                "LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters."
            )
        size = self._page_size(limit, self.limits.page)
        after = ""
        if token is not None:
            if not token.startswith("g/"):
                raise InvalidParameter("The specified nextToken is invalid.")
            after = token[2:]
        if log_class is not None:
            check_log_class(log_class, listing=True)
        found = await self.store.list_groups(tenant_id, prefix, pattern, after, size + 1, log_class)
        more = len(found) > size
        found = found[:size]
        return found, (f"g/{found[-1].name}" if more and found else None)

    async def put_retention(self, tenant_id: str, name: str, days: object) -> None:
        if not isinstance(days, int) or isinstance(days, bool) or days not in RETENTION_DAYS:
            raise InvalidParameter(
                "1 validation error detected: Value at 'retentionInDays' failed to satisfy "
                "constraint: Member must satisfy enum value set: "
                f"[{', '.join(str(d) for d in sorted(RETENTION_DAYS))}]"
            )
        group = await self.group(tenant_id, name)
        await self.store.put_group(dataclasses.replace(group, retention_days=days))

    async def delete_retention(self, tenant_id: str, name: str) -> None:
        group = await self.group(tenant_id, name)
        await self.store.put_group(dataclasses.replace(group, retention_days=None))

    async def associate_key(self, tenant_id: str, name: str, key_arn: str | None) -> None:
        group = await self.group(tenant_id, name)
        if key_arn is not None:
            await self._sealer.check_key(tenant_id, key_arn)
        # Events keep the key they were sealed under (its ARN is in their sealed form): as
        # AWS, associating a key seals what comes next, disassociating opens what was.
        await self.store.put_group(dataclasses.replace(group, kms_key_id=key_arn))

    async def tag_group(self, tenant_id: str, name: str, tags: Mapping[str, str]) -> None:
        group = await self.group(tenant_id, name)
        merged = {**group.tags, **check_tags(tags)}
        if len(merged) > _MAX_TAGS:
            raise InvalidParameter(f"A log group can have at most {_MAX_TAGS} tags")
        await self.store.put_group(dataclasses.replace(group, tags=merged))

    async def untag_group(self, tenant_id: str, name: str, keys: Sequence[str]) -> None:
        group = await self.group(tenant_id, name)
        kept = {k: v for k, v in group.tags.items() if k not in set(keys)}
        await self.store.put_group(dataclasses.replace(group, tags=kept))

    # Streams.

    async def create_stream(self, tenant_id: str, group: str, name: str) -> None:
        check_stream_name(name)
        await self.group(tenant_id, group)
        await self.store.create_stream(LogStream(tenant_id, group, name, self._clock()))

    async def stream(self, tenant_id: str, group: str, name: str) -> LogStream:
        check_stream_name(name)
        found = await self.store.get_stream(tenant_id, group, name)
        if found is None:
            await self.group(tenant_id, group)
            raise ResourceNotFound("The specified log stream does not exist.")
        return found

    async def delete_stream(self, tenant_id: str, group: str, name: str) -> None:
        check_stream_name(name)
        await self.group(tenant_id, group)
        if not await self.store.delete_stream(tenant_id, group, name, honour_protection=True):
            raise ResourceNotFound("The specified log stream does not exist.")

    async def describe_streams(
        self,
        tenant_id: str,
        group: str,
        prefix: str,
        order_by: str,
        descending: bool,
        limit: int | None,
        token: str | None,
    ) -> tuple[list[LogStream], str | None]:
        if order_by not in ("LogStreamName", "LastEventTime"):
            raise InvalidParameter("orderBy must be LogStreamName or LastEventTime")
        if prefix and order_by == "LastEventTime":
            raise InvalidParameter("Cannot order by LastEventTime with a logStreamNamePrefix.")
        await self.group(tenant_id, group)
        size = self._page_size(limit, self.limits.page)
        offset = 0
        if token is not None:
            if not token.startswith("s/") or not token[2:].isdigit():
                raise InvalidParameter("The specified nextToken is invalid.")
            offset = int(token[2:])
        found = await self.store.list_streams(
            tenant_id, group, prefix, order_by == "LastEventTime", descending, offset, size + 1
        )
        more = len(found) > size
        return found[:size], (f"s/{offset + size}" if more else None)

    # Events.

    async def put_events(
        self, tenant_id: str, group_name: str, stream_name: str, events: Sequence[InputEvent]
    ) -> Batch:
        group = await self.group(tenant_id, group_name)
        await self.stream(tenant_id, group_name, stream_name)
        now = self._clock()
        batch = check_batch(
            list(events),
            now=now,
            retention_days=group.retention_days,
            max_events=self.limits.max_events,
            max_bytes=self.limits.max_batch_bytes,
            max_age_ms=self.limits.max_age_ms,
            max_ahead_ms=self.limits.max_ahead_ms,
        )
        batch = dataclasses.replace(batch, log_class=group.log_class)
        if not batch.accepted:
            return batch
        protection = await self.protection.for_group(group)
        found: list[list[Finding]] = [
            protection.detector.find(e.message) if protection else [] for e in batch.accepted
        ]
        masks = [encode_spans(f) for f in found]
        await self._append(group, stream_name, batch.accepted, masks, now)
        # Metric filters see what every reader sees: the terms masked (AWS's egress rule).
        shown = [
            InputEvent(e.timestamp, mask(e.message, m)) if m else e
            for e, m in zip(batch.accepted, masks, strict=True)
        ]
        await self._tally(tenant_id, group_name, shown)
        for subscriber in self.subscribers:
            await subscriber.ingested(group, stream_name, shown, now)
        if protection is not None and any(found):
            await self._audit(group, batch.accepted, found, protection, now)
        return batch

    async def _append(
        self,
        group: LogGroup,
        stream_name: str,
        events: Sequence[InputEvent],
        masks: Sequence[str | None],
        now: int,
    ) -> None:
        plain = [e.message.encode() for e in events]
        sealed = await self._sealer.seal(
            group,
            [
                (text, event_context(group.tenant_id, group.name, stream_name, e.timestamp))
                for text, e in zip(plain, events, strict=True)
            ],
        )
        stored = [
            StoredEvent(stream_name, e.timestamp, now, len(text), box, masks=kept)
            for e, text, box, kept in zip(events, plain, sealed, masks, strict=True)
        ]
        if not await self.store.append(group.tenant_id, group.name, stream_name, stored):
            raise ResourceNotFound("The specified log stream does not exist.")

    async def _audit(
        self,
        group: LogGroup,
        events: Sequence[InputEvent],
        found: Sequence[Sequence[Finding]],
        protection: GroupProtection,
        now: int,
    ) -> None:
        """The audit of a batch with findings: ``LogEventsWithFindings`` counted per event,
        and each event's findings report into the policies' findings log groups, in a stream
        named after the audited group, and into their findings buckets, one object for the
        batch (offsets only: nothing of the terms themselves)."""
        arn = f"arn:aws:logs:{self.region}:{group.tenant_id}:log-group:{group.name}:*"
        reports: list[InputEvent] = []
        for event, findings in zip(events, found, strict=True):
            if not findings:
                continue
            self.tally.add(
                group.tenant_id,
                FINDINGS_METRIC,
                (("LogGroupName", group.name),),
                event.timestamp,
                1.0,
            )
            report = findings_report(findings, arn, audit_time(now))
            reports.append(InputEvent(now, json.dumps(report, separators=(",", ":"))))
        for name in protection.findings_groups:
            destination = await self.store.get_group(group.tenant_id, name)
            if destination is None:
                continue  # deleted since the policy was put: AWS drops the findings too
            stream = group.name.replace(":", "_").replace("*", "_")
            if await self.store.get_stream(group.tenant_id, name, stream) is None:
                with contextlib.suppress(ResourceAlreadyExists):  # another gateway made it
                    await self.store.create_stream(LogStream(group.tenant_id, name, stream, now))
            # Written as they are: a findings group's own policy does not audit the reports.
            await self._append(destination, stream, reports, [None] * len(reports), now)
        texts = [r.message for r in reports]
        await self.protection.deliver(group.tenant_id, group.name, texts, protection)

    # Metric filters.

    async def put_metric_filter(
        self, tenant_id: str, group: str, name: object, pattern: object, transformations: object
    ) -> None:
        made = metric_filter(tenant_id, group, name, pattern, transformations, self._clock())
        refuse_infrequent_access((await self.group(tenant_id, group)).log_class, "Metric filters")
        await self.store.put_metric_filter(made, self.limits.max_metric_filters)
        self._filters.pop((tenant_id, group), None)

    async def delete_metric_filter(self, tenant_id: str, group: str, name: object) -> None:
        filter_name = check_filter_name(name)
        await self.group(tenant_id, group)
        if not await self.store.delete_metric_filter(tenant_id, group, filter_name):
            raise ResourceNotFound("The specified metric filter does not exist.")
        self._filters.pop((tenant_id, group), None)

    async def describe_metric_filters(
        self,
        tenant_id: str,
        group: str | None,
        prefix: str,
        metric_name: str | None,
        namespace: str | None,
        limit: int | None,
        token: str | None,
    ) -> tuple[list[MetricFilter], str | None]:
        if prefix and group is None:
            raise InvalidParameter("filterNamePrefix is only valid with a logGroupName.")
        if metric_name is not None and namespace is None:
            raise InvalidParameter(
                "If you specify metricName, you must also specify metricNamespace."
            )
        if group is not None:
            await self.group(tenant_id, group)
        size = self._page_size(limit, _FILTERS_PAGE)
        after = None if token is None else filters_position(token)
        found = await self.store.list_metric_filters(
            FilterQuery(tenant_id, group, prefix, metric_name, namespace, after, size + 1)
        )
        more = len(found) > size
        found = found[:size]
        if not more or not found:
            return found, None
        last = json.dumps([found[-1].group, found[-1].name]).encode()
        return found, base64.urlsafe_b64encode(last).decode()

    async def filter_counts(self, tenant_id: str, groups: Sequence[str]) -> dict[str, int]:
        """``metricFilterCount`` of each group."""
        return await self.store.count_metric_filters(tenant_id, groups)

    # TestMetricFilter: (event number from 1, message, extracted values) of each match.
    test_metric_filter = staticmethod(test_pattern)

    async def _group_filters(
        self, tenant_id: str, group: str
    ) -> list[tuple[MetricFilter, FilterPattern]]:
        """The group's filters, compiled, from the cache while they are fresh: a filter put
        or deleted through another gateway applies here within the cache's time."""
        now = self._clock()
        cached = self._filters.get((tenant_id, group))
        if cached is not None and cached[0] > now:
            return cached[1]
        found = await self.store.list_metric_filters(
            FilterQuery(tenant_id, group, limit=self.limits.max_metric_filters)
        )
        compiled = [(f, compile_pattern(f.pattern)) for f in found]
        if len(self._filters) >= _CACHED_GROUPS:
            self._filters.clear()
        self._filters[(tenant_id, group)] = (now + self.limits.metric_filter_cache_ms, compiled)
        return compiled

    async def _tally(self, tenant_id: str, group: str, events: Sequence[InputEvent]) -> None:
        """Each accepted event against each filter of its group, its value counted in the
        minute of its own timestamp; a filter's default value in a minute where none of
        the group's events it took matched."""
        filters = await self._group_filters(tenant_id, group)
        for found_filter, compiled in filters:
            transformation = found_filter.transformation
            minutes: dict[int, bool] = {}
            for event in events:
                minute = event.timestamp // 60_000
                found = compiled.extract(event.message)
                observed = None if found is None else observe(transformation, found)
                if observed is not None:
                    value, dimensions = observed
                    self.tally.add(tenant_id, transformation, dimensions, event.timestamp, value)
                    minutes[minute] = True
                else:
                    minutes.setdefault(minute, False)
            for minute, matched in minutes.items():
                if not matched:
                    self.tally.add_default(tenant_id, transformation, minute * 60_000)

    def drain_metrics(self) -> list[MetricSample]:
        """The tallied minutes since the last call, to write into the accounts' metrics."""
        return self.tally.drain()

    async def forget_tenant(self, tenant_id: str) -> int:
        """Delete every log group of a tenant being closed, with its streams and events
        (already unreadable: its key ring and KMS keys were destroyed first); how many."""
        count = 0
        while page := await self.store.list_groups(tenant_id, "", "", "", 1000):
            for group in page:
                await self.store.delete_group(tenant_id, group.name)
                count += 1
        while policies := await self.store.list_resource_policies(tenant_id, "", 1000):
            for policy in policies:
                await self.store.delete_resource_policy(tenant_id, policy.name)
        await self.protection.forget_tenant(tenant_id)
        await self.indexes.forget_tenant(tenant_id)
        for forget in self.forgetters:
            await forget(tenant_id)
        return count

    # Resource policies (session 48): kept and answered; see logs.resource_policies.

    async def put_resource_policy(
        self, tenant_id: str, name: object, document: object
    ) -> ResourcePolicy:
        checked_name, checked_document = check_policy(name, document)
        policy = ResourcePolicy(tenant_id, checked_name, checked_document, self._clock())
        await self.store.put_resource_policy(policy, self.limits.max_resource_policies)
        return policy

    async def describe_resource_policies(
        self, tenant_id: str, limit: int | None, token: str | None
    ) -> tuple[list[ResourcePolicy], str | None]:
        size = self._page_size(limit, _FILTERS_PAGE)
        after = ""
        if token is not None:
            if not token.startswith("p/"):
                raise InvalidParameter("The specified nextToken is invalid.")
            after = token[2:]
        found = await self.store.list_resource_policies(tenant_id, after, size + 1)
        more = len(found) > size
        found = found[:size]
        return found, (f"p/{found[-1].name}" if more and found else None)

    async def delete_resource_policy(self, tenant_id: str, name: str) -> None:
        if not await self.store.delete_resource_policy(tenant_id, name):
            raise ResourceNotFound("Policy with name [" + name[:256] + "] does not exist")

    async def expire(self, batch: int) -> int:
        """One retention pass: up to ``batch`` events past their group's retention deleted."""
        return await self.store.expire(self._clock(), batch)
