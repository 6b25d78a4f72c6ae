"""EC2's VPC flow logs (decision 0153): CreateFlowLogs (``ResourceType``, ``ResourceId.N``,
``TrafficType``, ``LogDestinationType`` ``s3`` and ``LogDestination``, or (session 48)
``cloud-watch-logs`` with ``LogGroupName`` or ``LogDestination`` and
``DeliverLogsPermissionArn``, ``LogFormat``,
``MaxAggregationInterval``, ``DestinationOptions``, ``TagSpecification`` of type
``vpc-flow-log``, ``ClientToken``), DescribeFlowLogs (ids, filters ``flow-log-id``,
``resource-id``, ``traffic-type``, ``log-destination-type``, ``deliver-log-status`` and
tags, ``MaxResults`` with ``NextToken``) and DeleteFlowLogs.

A flow log to CloudWatch Logs asks ``iam:PassRole`` on its role (to
``vpc-flow-logs.amazonaws.com``) beside ``ec2:CreateFlowLogs``, as AWS does. One to a
Firehose stream of the account (``kinesis-data-firehose``, decision 0348) asks
``firehose:TagDeliveryStream`` on the stream, as AWS's: the compute service then tags the
stream ``LogDeliveryEnabled=true``, the tag the log delivery puts by (decision 0387).

A resource CreateFlowLogs cannot serve and a flow log DeleteFlowLogs does not find are
items of the answer's ``unsuccessful`` set, with EC2's error code, not errors of the call.
``DeliverCrossAccountRole`` (decision 0370) sends a flow log into a Firehose stream of another
account: the caller passes its role ``DeliverLogsPermissionArn`` to
``delivery.logs.amazonaws.com`` (``iam:PassRole``, with ``iam:AssociatedResourceARN`` each
monitored resource, as AWS's guide conditions it), and the stream's account's consent is its
own role's, judged when delivering — so no ``firehose:TagDeliveryStream`` is asked of the
caller, who has no rights in that account.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final

from andromede.compute.errors import ComputeError
from andromede.compute.flow_log import (
    FlowLog,
    check_aggregation,
    check_file_format,
    check_options,
    check_traffic,
    parse_destination,
    parse_format,
)
from andromede.ec2api.errors import Ec2Error, to_ec2_error
from andromede.ec2api.filters import Filters, matches, with_tags
from andromede.ec2api.protocol import Action, Call, iso8601, page_after, page_token
from andromede.ec2api.vpcs import resource_tags
from andromede.ec2api.xml import write_tags
from andromede.http.xml import XmlWriter

__all__ = ["FLOW_LOG_ACTIONS"]

# The principal a cross-account flow log's source role is passed to (AWS's VPC user guide).
LOG_DELIVERY_SERVICE: Final = "delivery.logs.amazonaws.com"

_HANDLED = frozenset(
    {
        "ResourceType",
        "ResourceId",
        "TrafficType",
        "LogDestinationType",
        "LogDestination",
        "LogFormat",
        "MaxAggregationInterval",
        "DestinationOptions",
        "TagSpecification",
        "ClientToken",
        "LogGroupName",
        "DeliverLogsPermissionArn",
        "DeliverCrossAccountRole",
    }
)


def _write_flow_log(xml: XmlWriter, flow_log: FlowLog, region: str) -> None:
    destination = flow_log.destination
    xml.open("item")
    xml.element("creationTime", iso8601(flow_log.created))
    xml.element("deliverLogsStatus", flow_log.deliver_status.value)
    xml.element("deliverLogsErrorMessage", flow_log.deliver_error or None)
    xml.element("flowLogId", flow_log.flow_log_id)
    xml.element("flowLogStatus", "ACTIVE")
    xml.element("resourceId", flow_log.target_id)
    xml.element("trafficType", flow_log.traffic_type.value)
    xml.element("logDestinationType", destination.kind)
    xml.element("logDestination", destination.arn_in(region, flow_log.tenant_id))
    xml.element("logGroupName", destination.log_group or None)
    xml.element("deliverLogsPermissionArn", destination.role_arn or None)
    xml.element("deliverCrossAccountRole", destination.cross_account_role or None)
    xml.element("logFormat", flow_log.format_text)
    write_tags(xml, flow_log.tags)
    xml.element("maxAggregationInterval", flow_log.max_aggregation_interval)
    if destination.kind != "s3":  # DestinationOptions are S3's
        xml.close("item")
        return
    xml.open("destinationOptions")
    xml.element("fileFormat", flow_log.file_format)
    xml.element("hiveCompatiblePartitions", flow_log.hive_compatible_partitions)
    xml.element("perHourPartition", flow_log.per_hour_partition)
    xml.close("destinationOptions")
    xml.close("item")


def _write_unsuccessful(xml: XmlWriter, refused: Sequence[tuple[str, ComputeError]]) -> None:
    xml.open("unsuccessful")
    for resource_id, exc in refused:
        error = to_ec2_error(exc)
        xml.open("item")
        xml.open("error")
        xml.element("code", error.code if error is not None else "InternalError")
        xml.element("message", error.message if error is not None else None)
        xml.close("error")
        xml.element("resourceId", resource_id)
        xml.close("item")
    xml.close("unsuccessful")


async def create_flow_logs(call: Call) -> None:
    p = call.params
    p.refuse_unhandled("CreateFlowLogs", _HANDLED)
    options = p.view("DestinationOptions.")
    file_format = check_file_format(options.get("FileFormat"))
    destination = parse_destination(
        p.get("LogDestinationType"),
        p.get("LogDestination"),
        log_group_name=p.get("LogGroupName"),
        role_arn=p.get("DeliverLogsPermissionArn"),
        cross_account_role=p.get("DeliverCrossAccountRole"),
        region=call.region,
        account=call.tenant_id,
    )
    check_options(destination, bool(options.names()))
    if destination.cross_account:
        await _may_pass_cross_account_role(call, destination.role_arn)
    elif destination.role_arn:
        # As AWS: the caller hands the role to the flow logs service, so it must be allowed
        # to pass it (to that service) beside ec2:CreateFlowLogs.
        await call.allow(
            "iam:PassRole",
            [destination.role_arn],
            {"iam:PassedToService": "vpc-flow-logs.amazonaws.com"},
        )
    elif destination.stream_arn:
        await call.allow("firehose:TagDeliveryStream", [destination.stream_arn])
    made, refused = await call.compute.create_flow_logs(
        call.tenant_id,
        p.get("ResourceType"),
        p.values("ResourceId"),
        check_traffic(p.get("TrafficType")),
        destination,
        parse_format(p.get("LogFormat")),
        check_aggregation(p.integer("MaxAggregationInterval")),
        hive_compatible_partitions=options.boolean("HiveCompatiblePartitions", default=False),
        per_hour_partition=options.boolean("PerHourPartition", default=False),
        file_format=file_format,
        tags=resource_tags(p, "vpc-flow-log"),
        client_token=p.get("ClientToken"),
    )
    xml = call.result
    xml.element("clientToken", p.get("ClientToken"))
    xml.open("flowLogIdSet")
    for flow_log in made:
        xml.element("item", flow_log.flow_log_id)
    xml.close("flowLogIdSet")
    _write_unsuccessful(xml, refused)


# What CreateFlowLogs' ResourceType names in an EC2 ARN.
_ARN_TYPES = {"VPC": "vpc", "Subnet": "subnet", "NetworkInterface": "network-interface"}


async def _may_pass_cross_account_role(call: Call, role_arn: str) -> None:
    """AWS's guide for cross-account delivery to Firehose: the source role is passed to the
    log delivery service, once for each monitored resource (``iam:AssociatedResourceARN``,
    which its example policy conditions with ``StringLike``)."""
    kind = _ARN_TYPES.get(call.params.get("ResourceType") or "", "vpc")
    for resource_id in call.params.values("ResourceId") or ["*"]:
        await call.allow(
            "iam:PassRole",
            [role_arn],
            {
                "iam:PassedToService": LOG_DELIVERY_SERVICE,
                "iam:AssociatedResourceARN": call.arn(kind, resource_id),
            },
        )


def _filter(name: str) -> Callable[[object], list[str]] | None:
    def of(get: Callable[[FlowLog], list[str]]) -> Callable[[object], list[str]]:
        return lambda o: get(o) if isinstance(o, FlowLog) else []

    fields = {
        "flow-log-id": of(lambda o: [o.flow_log_id]),
        "resource-id": of(lambda o: [o.target_id]),
        "traffic-type": of(lambda o: [o.traffic_type.value]),
        "log-destination-type": of(lambda o: [o.destination.kind]),
        "deliver-log-status": of(lambda o: [o.deliver_status.value]),
        "log-group-name": of(
            lambda o: [o.destination.log_group] if o.destination.log_group else []
        ),
    }
    return with_tags(fields)(name)


async def describe_flow_logs(call: Call) -> None:
    p = call.params
    found = await call.compute.describe_flow_logs(call.tenant_id, p.values("FlowLogId"))
    filters = Filters(p.filters(), _filter)
    chosen = [f for f in found if matches(filters, f)]
    max_results = p.integer("MaxResults", minimum=1, maximum=1000)
    after = page_after(p.get("NextToken"))
    if after is not None:
        chosen = [f for f in chosen if f.flow_log_id > after]
    token = None
    if max_results is not None and len(chosen) > max_results:
        chosen = chosen[:max_results]
        token = page_token(chosen[-1].flow_log_id)
    xml = call.result
    xml.open("flowLogSet")
    for flow_log in chosen:
        _write_flow_log(xml, flow_log, call.region)
    xml.close("flowLogSet")
    xml.element("nextToken", token)


async def delete_flow_logs(call: Call) -> None:
    ids = call.params.values("FlowLogId")
    if not ids:
        raise Ec2Error("MissingParameter", "The request must contain the parameter FlowLogId")
    refused = await call.compute.delete_flow_logs(call.tenant_id, ids)
    _write_unsuccessful(call.result, refused)


def _flow_log_arns(call: Call) -> list[str]:
    return [call.arn("vpc-flow-log", i) for i in call.params.values("FlowLogId")] or [
        call.arn("vpc-flow-log")
    ]


FLOW_LOG_ACTIONS: dict[str, Action] = {
    "CreateFlowLogs": Action(
        create_flow_logs, mutating=True, resources=lambda c: [c.arn("vpc-flow-log")]
    ),
    "DescribeFlowLogs": Action(describe_flow_logs, mutating=False),
    "DeleteFlowLogs": Action(delete_flow_logs, mutating=True, resources=_flow_log_arns),
}
