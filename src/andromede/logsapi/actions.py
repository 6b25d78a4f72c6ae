"""CloudWatch Logs' operations (decision 0186): each parses its parameters, authorises
``logs:<Op>`` on the ARN it names, calls :class:`LogsService` and shapes the answer as AWS
does. ``ACTIONS`` is the table of those served; ``NOT_SERVED`` the rest of AWS's, which
answer UnsupportedOperationException (501)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final

from andromede.logs.errors import InvalidParameter
from andromede.logs.log_classes import STANDARD, check_log_class
from andromede.logs.model import (
    EVENT_OVERHEAD,
    InputEvent,
    LogGroup,
    LogStream,
    check_group_name,
    check_stream_name,
    stream_arn,
)
from andromede.logs.service import LogEvent
from andromede.logsapi.action_call import LogsCall
from andromede.logsapi.export_actions import EXPORT_ACTIONS
from andromede.logsapi.index_actions import INDEX_ACTIONS
from andromede.logsapi.live_tail import start_live_tail
from andromede.logsapi.metric_filter_actions import FILTER_AND_POLICY_ACTIONS
from andromede.logsapi.params import (
    boolean,
    integer,
    mapping,
    optional_str,
    required_str,
    strings,
)
from andromede.logsapi.protection_actions import PROTECTION_ACTIONS
from andromede.logsapi.query_actions import QUERY_ACTIONS
from andromede.logsapi.subscription_actions import SUBSCRIPTION_ACTIONS

__all__ = ["ACTIONS", "DATA_ACTIONS", "NOT_SERVED", "LogsCall"]


def _group_shape(call: LogsCall, group: LogGroup, counts: dict[str, int]) -> dict[str, Any]:
    arn = call.group_arn(group.name)
    shape: dict[str, Any] = {
        "logGroupName": group.name,
        "creationTime": group.created,
        "metricFilterCount": counts.get(group.name, 0),
        "arn": f"{arn}:*",
        "logGroupArn": arn,
        "storedBytes": group.stored_bytes,
        "logGroupClass": group.log_class,
        "deletionProtectionEnabled": group.deletion_protection,
    }
    if group.retention_days is not None:
        shape["retentionInDays"] = group.retention_days
    if group.kms_key_id is not None:
        shape["kmsKeyId"] = group.kms_key_id
    if group.data_protection is not None:
        shape["dataProtectionStatus"] = "ACTIVATED"
    return shape


def _stream_shape(call: LogsCall, stream: LogStream) -> dict[str, Any]:
    shape: dict[str, Any] = {
        "logStreamName": stream.name,
        "creationTime": stream.created,
        "arn": stream_arn(call.logs.region, call.tenant_id, stream.group, stream.name),
        "storedBytes": stream.stored_bytes,
    }
    for key, value in (
        ("firstEventTimestamp", stream.first_event),
        ("lastEventTimestamp", stream.last_event),
        ("lastIngestionTime", stream.last_ingestion),
    ):
        if value is not None:
            shape[key] = value
    return shape


async def create_log_group(call: LogsCall) -> dict[str, Any]:
    name = check_group_name(required_str(call.params, "logGroupName"))
    await call.allow("CreateLogGroup", call.group_arn(name))
    log_class = check_log_class(optional_str(call.params, "logGroupClass") or STANDARD)
    tags = mapping(call.params, "tags")
    if tags:
        await call.allow("TagResource", call.group_arn(name))
    await call.logs.create_group(
        call.tenant_id,
        name,
        optional_str(call.params, "kmsKeyId"),
        tags,
        log_class,
        boolean(call.params, "deletionProtectionEnabled", False),
    )
    return {}


async def put_log_group_deletion_protection(call: LogsCall) -> dict[str, Any]:
    name = call.group_name_checked(call.group_name())
    await call.allow("PutLogGroupDeletionProtection", call.group_arn(name))
    if not isinstance(call.params.get("deletionProtectionEnabled"), bool):
        raise InvalidParameter(
            "1 validation error detected: Value null at 'deletionProtectionEnabled' failed to "
            "satisfy constraint: Member must not be null"
        )
    await call.logs.protect_group(
        call.tenant_id, name, boolean(call.params, "deletionProtectionEnabled", False)
    )
    return {}


async def delete_log_group(call: LogsCall) -> dict[str, Any]:
    name = check_group_name(required_str(call.params, "logGroupName"))
    await call.allow("DeleteLogGroup", call.group_arn(name))
    await call.logs.delete_group(call.tenant_id, name)
    return {}


async def describe_log_groups(call: LogsCall) -> dict[str, Any]:
    await call.allow("DescribeLogGroups", call.group_arn("*"))
    prefix = optional_str(call.params, "logGroupNamePrefix") or ""
    pattern = optional_str(call.params, "logGroupNamePattern") or ""
    if prefix:
        check_group_name(prefix, "logGroupNamePrefix")
    groups, token = await call.logs.describe_groups(
        call.tenant_id,
        prefix,
        pattern,
        integer(call.params, "limit"),
        optional_str(call.params, "nextToken"),
        optional_str(call.params, "logGroupClass"),
    )
    counts = await call.logs.filter_counts(call.tenant_id, [g.name for g in groups])
    answer: dict[str, Any] = {"logGroups": [_group_shape(call, g, counts) for g in groups]}
    if token is not None:
        answer["nextToken"] = token
    return answer


async def put_retention_policy(call: LogsCall) -> dict[str, Any]:
    name = check_group_name(required_str(call.params, "logGroupName"))
    await call.allow("PutRetentionPolicy", call.group_arn(name))
    await call.logs.put_retention(call.tenant_id, name, call.params.get("retentionInDays"))
    return {}


async def delete_retention_policy(call: LogsCall) -> dict[str, Any]:
    name = check_group_name(required_str(call.params, "logGroupName"))
    await call.allow("DeleteRetentionPolicy", call.group_arn(name))
    await call.logs.delete_retention(call.tenant_id, name)
    return {}


async def associate_kms_key(call: LogsCall) -> dict[str, Any]:
    name = call.group_name()
    await call.allow("AssociateKmsKey", call.group_arn(name))
    await call.logs.associate_key(call.tenant_id, name, required_str(call.params, "kmsKeyId"))
    return {}


async def disassociate_kms_key(call: LogsCall) -> dict[str, Any]:
    name = call.group_name()
    await call.allow("DisassociateKmsKey", call.group_arn(name))
    await call.logs.associate_key(call.tenant_id, name, None)
    return {}


def _stream_name(call: LogsCall) -> str:
    return check_stream_name(required_str(call.params, "logStreamName"))


def _stream_arn(call: LogsCall, group: str, stream: str) -> str:
    return stream_arn(call.logs.region, call.tenant_id, group, stream)


async def create_log_stream(call: LogsCall) -> dict[str, Any]:
    group, stream = check_group_name(required_str(call.params, "logGroupName")), _stream_name(call)
    await call.allow("CreateLogStream", _stream_arn(call, group, stream))
    await call.logs.create_stream(call.tenant_id, group, stream)
    return {}


async def delete_log_stream(call: LogsCall) -> dict[str, Any]:
    group, stream = check_group_name(required_str(call.params, "logGroupName")), _stream_name(call)
    await call.allow("DeleteLogStream", _stream_arn(call, group, stream))
    await call.logs.delete_stream(call.tenant_id, group, stream)
    return {}


async def describe_log_streams(call: LogsCall) -> dict[str, Any]:
    group = call.group_name()
    await call.allow("DescribeLogStreams", call.group_arn(group))
    prefix = optional_str(call.params, "logStreamNamePrefix") or ""
    streams, token = await call.logs.describe_streams(
        call.tenant_id,
        group,
        prefix,
        optional_str(call.params, "orderBy") or "LogStreamName",
        boolean(call.params, "descending", False),
        integer(call.params, "limit"),
        optional_str(call.params, "nextToken"),
    )
    answer: dict[str, Any] = {"logStreams": [_stream_shape(call, s) for s in streams]}
    if token is not None:
        answer["nextToken"] = token
    return answer


def _input_events(params: dict[str, Any]) -> list[InputEvent]:
    raw = params.get("logEvents")
    if not isinstance(raw, list):
        raise InvalidParameter(
            "1 validation error detected: Value null at 'logEvents' failed to satisfy "
            "constraint: Member must not be null"
        )
    events: list[InputEvent] = []
    for item in raw:
        if not isinstance(item, dict):
            raise InvalidParameter("Each log event is an object with timestamp and message")
        timestamp, message = item.get("timestamp"), item.get("message")
        # A long, as the model's shape: a larger number must not reach the database.
        if isinstance(timestamp, bool) or not isinstance(timestamp, int):
            timestamp = -1
        if not 0 <= timestamp < 2**63:
            raise InvalidParameter("A log event's timestamp is milliseconds since the epoch")
        if not isinstance(message, str):
            raise InvalidParameter("A log event's message is a string")
        events.append(InputEvent(timestamp, message))
    return events


async def put_log_events(call: LogsCall) -> dict[str, Any]:
    group, stream = check_group_name(required_str(call.params, "logGroupName")), _stream_name(call)
    await call.allow("PutLogEvents", _stream_arn(call, group, stream))
    optional_str(call.params, "sequenceToken")  # accepted and ignored, as AWS does now
    batch = await call.logs.put_events(call.tenant_id, group, stream, _input_events(call.params))
    call.ingested = sum(len(e.message.encode()) + EVENT_OVERHEAD for e in batch.accepted)
    call.ingested_class = batch.log_class
    answer: dict[str, Any] = {}
    rejected = batch.rejected_info()
    if rejected:
        answer["rejectedLogEventsInfo"] = rejected
    return answer


def _time(call: LogsCall, name: str) -> int | None:
    value = integer(call.params, name)
    if value is not None and value < 0:
        raise InvalidParameter(f"{name} must not be negative")
    return value


def _event_shape(event: LogEvent) -> dict[str, Any]:
    return {
        "timestamp": event.timestamp,
        "message": event.message,
        "ingestionTime": event.ingestion,
    }


async def _unmask(call: LogsCall, group: str) -> bool:
    """``unmask``: the terms a data protection policy masked shown, to a caller allowed
    ``logs:Unmask`` on the group (decision 0211)."""
    unmask = boolean(call.params, "unmask", False)
    if unmask:
        await call.allow("Unmask", call.group_arn(group))
    return unmask


async def get_log_events(call: LogsCall) -> dict[str, Any]:
    group, stream = call.group_name(), _stream_name(call)
    await call.allow("GetLogEvents", _stream_arn(call, group, stream))
    unmask = await _unmask(call, group)
    events, forward, backward = await call.logs.get_events(
        call.tenant_id,
        group,
        stream,
        start=_time(call, "startTime"),
        end=_time(call, "endTime"),
        start_from_head=boolean(call.params, "startFromHead", False),
        limit=integer(call.params, "limit"),
        token=optional_str(call.params, "nextToken"),
        unmask=unmask,
    )
    return {
        "events": [_event_shape(e) for e in events],
        "nextForwardToken": forward,
        "nextBackwardToken": backward,
    }


async def filter_log_events(call: LogsCall) -> dict[str, Any]:
    group = call.group_name()
    await call.allow("FilterLogEvents", call.group_arn(group))
    unmask = await _unmask(call, group)
    if call.params.get("interleaved") is not None:
        boolean(call.params, "interleaved", True)  # deprecated: always interleaved
    events, token = await call.logs.filter_events(
        call.tenant_id,
        group,
        streams=strings(call.params, "logStreamNames"),
        stream_prefix=optional_str(call.params, "logStreamNamePrefix") or "",
        start=_time(call, "startTime"),
        end=_time(call, "endTime"),
        pattern=optional_str(call.params, "filterPattern") or "",
        limit=integer(call.params, "limit"),
        token=optional_str(call.params, "nextToken"),
        unmask=unmask,
    )
    answer: dict[str, Any] = {
        "events": [
            {
                "logStreamName": e.stream,
                **_event_shape(e),
                "eventId": f"{e.timestamp:019d}{e.seq:019d}",
            }
            for e in events
        ],
        "searchedLogStreams": [],
    }
    if token is not None:
        answer["nextToken"] = token
    return answer


async def tag_resource(call: LogsCall) -> dict[str, Any]:
    name = call.name_from_arn(required_str(call.params, "resourceArn"))
    await call.allow("TagResource", call.group_arn(name))
    await call.logs.tag_group(call.tenant_id, name, mapping(call.params, "tags"))
    return {}


async def untag_resource(call: LogsCall) -> dict[str, Any]:
    name = call.name_from_arn(required_str(call.params, "resourceArn"))
    await call.allow("UntagResource", call.group_arn(name))
    await call.logs.untag_group(call.tenant_id, name, strings(call.params, "tagKeys") or [])
    return {}


async def list_tags_for_resource(call: LogsCall) -> dict[str, Any]:
    name = call.name_from_arn(required_str(call.params, "resourceArn"))
    await call.allow("ListTagsForResource", call.group_arn(name))
    return {"tags": (await call.logs.group(call.tenant_id, name)).tags}


async def tag_log_group(call: LogsCall) -> dict[str, Any]:
    name = check_group_name(required_str(call.params, "logGroupName"))
    await call.allow("TagLogGroup", call.group_arn(name))
    await call.logs.tag_group(call.tenant_id, name, mapping(call.params, "tags"))
    return {}


async def untag_log_group(call: LogsCall) -> dict[str, Any]:
    name = check_group_name(required_str(call.params, "logGroupName"))
    await call.allow("UntagLogGroup", call.group_arn(name))
    await call.logs.untag_group(call.tenant_id, name, strings(call.params, "tags") or [])
    return {}


async def list_tags_log_group(call: LogsCall) -> dict[str, Any]:
    name = check_group_name(required_str(call.params, "logGroupName"))
    await call.allow("ListTagsLogGroup", call.group_arn(name))
    return {"tags": (await call.logs.group(call.tenant_id, name)).tags}


ACTIONS: Final[dict[str, Callable[[LogsCall], Awaitable[dict[str, Any]]]]] = {
    "CreateLogGroup": create_log_group,
    "DeleteLogGroup": delete_log_group,
    "PutLogGroupDeletionProtection": put_log_group_deletion_protection,
    "DescribeLogGroups": describe_log_groups,
    "PutRetentionPolicy": put_retention_policy,
    "DeleteRetentionPolicy": delete_retention_policy,
    "AssociateKmsKey": associate_kms_key,
    "DisassociateKmsKey": disassociate_kms_key,
    "CreateLogStream": create_log_stream,
    "DeleteLogStream": delete_log_stream,
    "DescribeLogStreams": describe_log_streams,
    "PutLogEvents": put_log_events,
    "GetLogEvents": get_log_events,
    "FilterLogEvents": filter_log_events,
    "TagResource": tag_resource,
    "UntagResource": untag_resource,
    "ListTagsForResource": list_tags_for_resource,
    "TagLogGroup": tag_log_group,
    "UntagLogGroup": untag_log_group,
    "ListTagsLogGroup": list_tags_log_group,
    **FILTER_AND_POLICY_ACTIONS,
    **QUERY_ACTIONS,
    **EXPORT_ACTIONS,
    **PROTECTION_ACTIONS,
    **SUBSCRIPTION_ACTIONS,
    **INDEX_ACTIONS,
    "StartLiveTail": start_live_tail,
}

# Data events, not audited (as decision 0172 for metric calls: AWS's trail keeps them only
# as data events, off by default): the events written and read, and a query's results
# (polled until the query ends: StartQuery and StopQuery are audited, the polls are not),
# and GetLogRecord, which reads one event's content as GetLogEvents does.
DATA_ACTIONS: Final = frozenset(
    {"PutLogEvents", "GetLogEvents", "FilterLogEvents", "GetQueryResults", "GetLogRecord"}
)

NOT_SERVED: Final = frozenset(
    """AssociateSourceToS3TableIntegration CancelImportTask CreateDelivery
    CreateImportTask CreateLogAnomalyDetector CreateLookupTable
    CreateScheduledQuery DeleteDelivery
    DeleteDeliveryDestination DeleteDeliveryDestinationPolicy DeleteDeliverySource
    DeleteDestination DeleteIntegration DeleteLogAnomalyDetector
    DeleteLookupTable
    DeleteScheduledQuery DeleteSyslogConfiguration DeleteTransformer
    DescribeConfigurationTemplates DescribeDeliveries
    DescribeDeliveryDestinations DescribeDeliverySources DescribeDestinations
    DescribeFieldIndexes DescribeImportTaskBatches DescribeImportTasks
    DescribeLookupTables
    DisassociateSourceFromS3TableIntegration GetDelivery
    GetDeliveryDestination GetDeliveryDestinationPolicy GetDeliverySource GetIntegration
    GetLogAnomalyDetector GetLogFields GetLogObject
    GetLookupTable GetScheduledQuery GetScheduledQueryHistory
    GetStorageTierPolicy GetTransformer ListAggregateLogGroupSummaries ListAnomalies
    ListIntegrations ListLogAnomalyDetectors ListLogGroups ListLogGroupsForQuery
    ListScheduledQueries ListSourcesForS3TableIntegration ListSyslogConfigurations
    PutBearerTokenAuthentication
    PutDeliveryDestination PutDeliveryDestinationPolicy PutDeliverySource PutDestination
    PutDestinationPolicy PutIntegration
    PutStorageTierPolicy
    PutSyslogConfiguration PutTransformer
    TestTransformer UpdateAnomaly UpdateDeliveryConfiguration
    UpdateLogAnomalyDetector UpdateLookupTable UpdateScheduledQuery""".split()
)
