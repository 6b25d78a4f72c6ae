"""The CloudWatch Logs calls (decision 0186) the console's log group pages make, in process as
the signed-in principal through Logs' JSON protocol (``logsapi.app``): its authorisation
(``logs:<Action>`` on the group's or stream's ARN), checks, audit and errors answer them. Each
answer is read into the small rows the pages show; nothing here decides what Logs allows.

Events' messages are the customer's data: they are handed to the templates as text, which
autoescape, and never read as markup.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from andromede.console.wire import JsonWire
from andromede.http.response import Scope
from andromede.iam.model import Principal

__all__ = [
    "AccountSubscriptionPolicy",
    "EventRow",
    "ExportRow",
    "FilterRow",
    "GroupRow",
    "LogsWire",
    "StreamRow",
    "SubscriptionRow",
    "event_row",
]


def _when(value: Any) -> str:
    """An epoch-milliseconds timestamp as the pages show it ("" when absent)."""
    if not isinstance(value, int) or isinstance(value, bool):
        return ""
    return datetime.fromtimestamp(value / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


@dataclass(frozen=True, slots=True)
class GroupRow:
    name: str
    arn: str
    created: str
    retention_days: int | None  # None: kept forever
    stored_bytes: int
    kms_key_id: str
    metric_filters: int
    # Its class and deletion protection (decision 0222).
    log_class: str = "STANDARD"
    deletion_protection: bool = False


@dataclass(frozen=True, slots=True)
class StreamRow:
    name: str
    created: str
    last_event: str
    stored_bytes: int


@dataclass(frozen=True, slots=True)
class EventRow:
    timestamp: str
    message: str  # customer data: rendered as text only
    stream: str = ""


@dataclass(frozen=True, slots=True)
class FilterRow:
    name: str
    pattern: str
    metric_namespace: str
    metric_name: str
    metric_value: str


@dataclass(frozen=True, slots=True)
class SubscriptionRow:
    """A subscription filter (decision 0225) as DescribeSubscriptionFilters tells it."""

    name: str
    pattern: str
    destination_arn: str
    role_arn: str
    created: str


@dataclass(frozen=True, slots=True)
class ExportRow:
    """An export task (decision 0186, session 49) as DescribeExportTasks tells it."""

    task_id: str
    name: str
    group: str
    start: str  # the window exported, UTC
    end: str
    bucket: str
    prefix: str
    status: str
    message: str


def _export(item: dict[str, Any]) -> ExportRow:
    found = item.get("status")
    status: dict[str, Any] = found if isinstance(found, dict) else {}
    return ExportRow(
        task_id=str(item.get("taskId", "")),
        name=str(item.get("taskName", "")),
        group=str(item.get("logGroupName", "")),
        start=_when(item.get("from"))[:16],
        end=_when(item.get("to"))[:16],
        bucket=str(item.get("destination", "")),
        prefix=str(item.get("destinationPrefix", "")),
        status=str(status.get("code", "")),
        message=str(status.get("message") or ""),
    )


def _group(item: dict[str, Any]) -> GroupRow:
    retention = item.get("retentionInDays")
    stored = item.get("storedBytes")
    count = item.get("metricFilterCount")
    return GroupRow(
        name=str(item.get("logGroupName", "")),
        arn=str(item.get("logGroupArn", "")),
        created=_when(item.get("creationTime")),
        retention_days=retention if isinstance(retention, int) else None,
        stored_bytes=stored if isinstance(stored, int) else 0,
        kms_key_id=str(item.get("kmsKeyId") or ""),
        metric_filters=count if isinstance(count, int) else 0,
        log_class=str(item.get("logGroupClass") or "STANDARD"),
        deletion_protection=item.get("deletionProtectionEnabled") is True,
    )


def event_row(item: dict[str, Any]) -> EventRow:
    return EventRow(
        _when(item.get("timestamp")),
        str(item.get("message", "")),
        str(item.get("logStreamName", "")),
    )


SUBSCRIPTION_FILTER_POLICY = "SUBSCRIPTION_FILTER_POLICY"


@dataclass(frozen=True, slots=True)
class AccountSubscriptionPolicy:
    """The account's subscription filter policy as DescribeAccountPolicies tells it: its
    document's fields, and the groups its selection criteria leave out."""

    name: str
    destination_arn: str
    role_arn: str
    pattern: str
    distribution: str
    selection_criteria: str
    excluded_groups: list[str]
    updated: str


def _excluded(criteria: str) -> list[str]:
    """The names of ``LogGroupName NOT IN [...]`` (the one form Logs takes); none when the
    criteria cannot be read."""
    _, _, listed = criteria.partition("NOT IN")
    try:
        names = json.loads(listed) if listed.strip() else []
    except ValueError:
        return []
    return [str(n) for n in names] if isinstance(names, list) else []


def account_subscription_policy(item: dict[str, Any]) -> AccountSubscriptionPolicy:
    try:
        document = json.loads(str(item.get("policyDocument") or "{}"))
    except ValueError:
        document = {}
    if not isinstance(document, dict):
        document = {}
    criteria = str(item.get("selectionCriteria") or "")
    return AccountSubscriptionPolicy(
        name=str(item.get("policyName", "")),
        destination_arn=str(document.get("DestinationArn", "")),
        role_arn=str(document.get("RoleArn", "")),
        pattern=str(document.get("FilterPattern", "")),
        distribution=str(document.get("Distribution", "")),
        selection_criteria=criteria,
        excluded_groups=_excluded(criteria),
        updated=_when(item.get("lastUpdatedTime")),
    )


class LogsWire(JsonWire):
    """The log calls the console makes (``Logs_20140328`` JSON 1.1), as ``principal``."""

    target_prefix = "Logs_20140328."
    content_type = "application/x-amz-json-1.1"
    internal_error = "ServiceUnavailableException"

    async def list_groups(
        self,
        origin: Scope,
        principal: Principal,
        *,
        prefix: str,
        limit: int,
        token: str | None,
    ) -> tuple[list[GroupRow], str | None]:
        """One page of DescribeLogGroups, filtered by a name prefix when given."""
        payload: dict[str, Any] = {"limit": limit}
        if prefix:
            payload["logGroupNamePrefix"] = prefix
        if token:
            payload["nextToken"] = token
        answer = await self._json(origin, principal, "DescribeLogGroups", payload)
        rows = [_group(g) for g in answer.get("logGroups", []) if isinstance(g, dict)]
        following = answer.get("nextToken")
        return rows, str(following) if following else None

    async def group_names(self, origin: Scope, principal: Principal) -> list[str]:
        """The account's groups' names, a form's choices (the flow logs page's): the first
        1,000 (20 of DescribeLogGroups' largest pages), in its order."""
        names: list[str] = []
        token: str | None = None
        for _ in range(20):
            rows, token = await self.list_groups(
                origin, principal, prefix="", limit=50, token=token
            )
            names.extend(row.name for row in rows)
            if token is None:
                break
        return names

    async def group(self, origin: Scope, principal: Principal, name: str) -> GroupRow | None:
        """The group of that exact name (DescribeLogGroups has no single-group call), None
        when the account has none."""
        token: str | None = None
        for _ in range(20):  # a prefix shared by more than 1,000 groups: give up, "no such"
            rows, token = await self.list_groups(
                origin, principal, prefix=name, limit=50, token=token
            )
            for row in rows:
                if row.name == name:
                    return row
            if token is None:
                break
        return None

    async def create_group(
        self,
        origin: Scope,
        principal: Principal,
        name: str,
        *,
        kms_key_id: str,
        tags: Sequence[tuple[str, str]],
        log_class: str = "STANDARD",
        deletion_protection: bool = False,
    ) -> None:
        """CreateLogGroup; an empty key is not sent (the group is then sealed under the
        platform's keys)."""
        payload: dict[str, Any] = {"logGroupName": name, "logGroupClass": log_class}
        if kms_key_id:
            payload["kmsKeyId"] = kms_key_id
        if deletion_protection:
            payload["deletionProtectionEnabled"] = True
        if tags:
            payload["tags"] = dict(tags)
        await self._json(origin, principal, "CreateLogGroup", payload)

    async def set_retention(
        self, origin: Scope, principal: Principal, name: str, days: int | None
    ) -> None:
        """PutRetentionPolicy, or DeleteRetentionPolicy (kept forever) for ``None``."""
        if days is None:
            await self._json(origin, principal, "DeleteRetentionPolicy", {"logGroupName": name})
            return
        payload = {"logGroupName": name, "retentionInDays": days}
        await self._json(origin, principal, "PutRetentionPolicy", payload)

    async def set_deletion_protection(
        self, origin: Scope, principal: Principal, name: str, enabled: bool
    ) -> None:
        """PutLogGroupDeletionProtection (decision 0222)."""
        payload = {"logGroupIdentifier": name, "deletionProtectionEnabled": enabled}
        await self._json(origin, principal, "PutLogGroupDeletionProtection", payload)

    async def delete_group(self, origin: Scope, principal: Principal, name: str) -> None:
        await self._json(origin, principal, "DeleteLogGroup", {"logGroupName": name})

    async def streams(
        self, origin: Scope, principal: Principal, group: str, *, limit: int, token: str | None
    ) -> tuple[list[StreamRow], str | None]:
        """One page of DescribeLogStreams, the stream with the latest event first."""
        payload: dict[str, Any] = {
            "logGroupName": group,
            "orderBy": "LastEventTime",
            "descending": True,
            "limit": limit,
        }
        if token:
            payload["nextToken"] = token
        answer = await self._json(origin, principal, "DescribeLogStreams", payload)
        rows = [
            StreamRow(
                str(s.get("logStreamName", "")),
                _when(s.get("creationTime")),
                _when(s.get("lastEventTimestamp")),
                int(s.get("storedBytes") or 0),
            )
            for s in answer.get("logStreams", [])
            if isinstance(s, dict)
        ]
        following = answer.get("nextToken")
        return rows, str(following) if following else None

    async def events(
        self,
        origin: Scope,
        principal: Principal,
        group: str,
        stream: str,
        *,
        limit: int,
        token: str | None,
        unmask: bool = False,
    ) -> tuple[list[EventRow], str, str]:
        """One page of GetLogEvents (the newest without a token, as AWS's default) and its
        (newer, older) tokens; ``unmask``: the terms a data protection policy masked shown,
        when Logs allows the caller ``logs:Unmask`` (decision 0211)."""
        payload: dict[str, Any] = {"logGroupName": group, "logStreamName": stream, "limit": limit}
        if token:
            payload["nextToken"] = token
        if unmask:
            payload["unmask"] = True
        answer = await self._json(origin, principal, "GetLogEvents", payload)
        rows = [event_row(e) for e in answer.get("events", []) if isinstance(e, dict)]
        return (
            rows,
            str(answer.get("nextForwardToken") or ""),
            str(answer.get("nextBackwardToken") or ""),
        )

    async def search(
        self,
        origin: Scope,
        principal: Principal,
        group: str,
        *,
        pattern: str,
        limit: int,
        token: str | None,
        unmask: bool = False,
    ) -> tuple[list[EventRow], str | None]:
        """One page of FilterLogEvents across the group's streams with ``pattern`` (``unmask``
        as :meth:`events`)."""
        payload: dict[str, Any] = {"logGroupName": group, "limit": limit}
        if pattern:
            payload["filterPattern"] = pattern
        if token:
            payload["nextToken"] = token
        if unmask:
            payload["unmask"] = True
        answer = await self._json(origin, principal, "FilterLogEvents", payload)
        rows = [event_row(e) for e in answer.get("events", []) if isinstance(e, dict)]
        following = answer.get("nextToken")
        return rows, str(following) if following else None

    async def metric_filters(
        self, origin: Scope, principal: Principal, group: str
    ) -> list[FilterRow]:
        """The group's metric filters (DescribeMetricFilters, its first 50)."""
        payload = {"logGroupName": group, "limit": 50}
        answer = await self._json(origin, principal, "DescribeMetricFilters", payload)
        rows: list[FilterRow] = []
        for item in answer.get("metricFilters", []):
            if not isinstance(item, dict):
                continue
            listed = item.get("metricTransformations") or [{}]
            first = listed[0] if isinstance(listed, list) and isinstance(listed[0], dict) else {}
            rows.append(
                FilterRow(
                    str(item.get("filterName", "")),
                    str(item.get("filterPattern", "")),
                    str(first.get("metricNamespace", "")),
                    str(first.get("metricName", "")),
                    str(first.get("metricValue", "")),
                )
            )
        return rows

    async def put_metric_filter(
        self, origin: Scope, principal: Principal, group: str, row: FilterRow
    ) -> None:
        payload = {
            "logGroupName": group,
            "filterName": row.name,
            "filterPattern": row.pattern,
            "metricTransformations": [
                {
                    "metricNamespace": row.metric_namespace,
                    "metricName": row.metric_name,
                    "metricValue": row.metric_value,
                }
            ],
        }
        await self._json(origin, principal, "PutMetricFilter", payload)

    async def delete_metric_filter(
        self, origin: Scope, principal: Principal, group: str, name: str
    ) -> None:
        payload = {"logGroupName": group, "filterName": name}
        await self._json(origin, principal, "DeleteMetricFilter", payload)

    # Data protection (decision 0211): the group's policy document, as Logs keeps it.

    async def data_protection_policy(
        self, origin: Scope, principal: Principal, group: str
    ) -> str | None:
        """GetDataProtectionPolicy's document; None when the group has none."""
        payload = {"logGroupIdentifier": group}
        answer = await self._json(origin, principal, "GetDataProtectionPolicy", payload)
        document = answer.get("policyDocument")
        return document if isinstance(document, str) and document else None

    async def put_data_protection_policy(
        self, origin: Scope, principal: Principal, group: str, document: str
    ) -> None:
        payload = {"logGroupIdentifier": group, "policyDocument": document}
        await self._json(origin, principal, "PutDataProtectionPolicy", payload)

    async def delete_data_protection_policy(
        self, origin: Scope, principal: Principal, group: str
    ) -> None:
        payload = {"logGroupIdentifier": group}
        await self._json(origin, principal, "DeleteDataProtectionPolicy", payload)

    # Export tasks (decision 0186, session 49).

    async def export_tasks(
        self, origin: Scope, principal: Principal, *, limit: int
    ) -> list[ExportRow]:
        """The account's latest export tasks (DescribeExportTasks, its first ``limit``)."""
        answer = await self._json(origin, principal, "DescribeExportTasks", {"limit": limit})
        tasks = answer.get("exportTasks", [])
        return [_export(t) for t in tasks if isinstance(t, dict)]

    async def create_export_task(
        self,
        origin: Scope,
        principal: Principal,
        group: str,
        window: tuple[datetime, datetime],
        bucket: str,
        *,
        prefix: str,
        name: str,
    ) -> None:
        """CreateExportTask of the group's events in ``window`` into ``bucket``."""
        payload: dict[str, Any] = {
            "logGroupName": group,
            "from": int(window[0].timestamp() * 1000),
            "to": int(window[1].timestamp() * 1000),
            "destination": bucket,
        }
        if prefix:
            payload["destinationPrefix"] = prefix
        if name:
            payload["taskName"] = name
        await self._json(origin, principal, "CreateExportTask", payload)

    async def cancel_export_task(self, origin: Scope, principal: Principal, task_id: str) -> None:
        await self._json(origin, principal, "CancelExportTask", {"taskId": task_id})

    # -- subscription filters (decision 0225) ----------------------------------------------------
    async def subscription_filters(
        self, origin: Scope, principal: Principal, group: str
    ) -> list[SubscriptionRow]:
        """The group's subscription filters (DescribeSubscriptionFilters: two at most)."""
        payload = {"logGroupName": group, "limit": 50}
        answer = await self._json(origin, principal, "DescribeSubscriptionFilters", payload)
        return [
            SubscriptionRow(
                str(item.get("filterName", "")),
                str(item.get("filterPattern", "")),
                str(item.get("destinationArn", "")),
                str(item.get("roleArn") or ""),
                _when(item.get("creationTime")),
            )
            for item in answer.get("subscriptionFilters", [])
            if isinstance(item, dict)
        ]

    async def put_subscription_filter(
        self, origin: Scope, principal: Principal, group: str, row: SubscriptionRow
    ) -> None:
        """PutSubscriptionFilter; an empty role is not sent (Logs answers what it needs)."""
        payload = {
            "logGroupName": group,
            "filterName": row.name,
            "filterPattern": row.pattern,
            "destinationArn": row.destination_arn,
        }
        if row.role_arn:
            payload["roleArn"] = row.role_arn
        await self._json(origin, principal, "PutSubscriptionFilter", payload)

    async def delete_subscription_filter(
        self, origin: Scope, principal: Principal, group: str, name: str
    ) -> None:
        payload = {"logGroupName": group, "filterName": name}
        await self._json(origin, principal, "DeleteSubscriptionFilter", payload)

    # -- the account's subscription filter policy (decision 0232) ----------------------------------
    async def subscription_policy(
        self, origin: Scope, principal: Principal
    ) -> AccountSubscriptionPolicy | None:
        """DescribeAccountPolicies of SUBSCRIPTION_FILTER_POLICY: the account's one policy
        (None when it has none)."""
        payload = {"policyType": SUBSCRIPTION_FILTER_POLICY}
        answer = await self._json(origin, principal, "DescribeAccountPolicies", payload)
        for item in answer.get("accountPolicies", []):
            if isinstance(item, dict):
                return account_subscription_policy(item)
        return None

    async def put_subscription_policy(
        self,
        origin: Scope,
        principal: Principal,
        name: str,
        document: str,
        selection_criteria: str,
    ) -> None:
        """PutAccountPolicy of SUBSCRIPTION_FILTER_POLICY, scope ALL; empty criteria are not
        sent."""
        payload = {
            "policyName": name,
            "policyType": SUBSCRIPTION_FILTER_POLICY,
            "policyDocument": document,
            "scope": "ALL",
        }
        if selection_criteria:
            payload["selectionCriteria"] = selection_criteria
        await self._json(origin, principal, "PutAccountPolicy", payload)

    async def delete_subscription_policy(
        self, origin: Scope, principal: Principal, name: str
    ) -> None:
        payload = {"policyName": name, "policyType": SUBSCRIPTION_FILTER_POLICY}
        await self._json(origin, principal, "DeleteAccountPolicy", payload)
