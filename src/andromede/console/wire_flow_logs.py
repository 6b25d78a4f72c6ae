"""EC2's VPC flow log calls (decision 0153), made in process as the console's signed-in
principal through ``wire_ec2.Ec2Wire``: EC2's own authorisation, audit and errors answer them.
Each answer is read into the rows the flow logs page shows; nothing here decides what EC2
allows.

CreateFlowLogs and DeleteFlowLogs answer a resource (a flow log) they refuse as an item of
their ``unsuccessful`` set, not as an error of the call; the console names one resource per
call, so such an item is raised as the ``WireError`` it stands for (a subnet of another
account: ``InvalidSubnetID.NotFound``, 400), as the other pages show EC2's refusals.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final
from xml.etree.ElementTree import Element

from andromede.console.wire import WireError
from andromede.console.wire_ec2 import Ec2Wire, _when, tagged, text
from andromede.http.response import Scope
from andromede.iam.model import Principal

__all__ = [
    "AGGREGATION_INTERVALS",
    "CLOUD_WATCH_LOGS",
    "DESTINATION_TYPES",
    "FILE_FORMATS",
    "TRAFFIC_TYPES",
    "FlowLogRow",
    "create_flow_log",
    "delete_flow_log",
    "describe_flow_logs",
]

TRAFFIC_TYPES: Final = ("ALL", "ACCEPT", "REJECT")
AGGREGATION_INTERVALS: Final = ("600", "60")  # EC2's default first
FILE_FORMATS: Final = ("plain-text", "parquet")  # EC2's default first (decision 0170)
CLOUD_WATCH_LOGS: Final = "cloud-watch-logs"
DESTINATION_TYPES: Final = ("s3", CLOUD_WATCH_LOGS)  # the form's first: its S3 fields


@dataclass(frozen=True, slots=True)
class FlowLogRow:
    flow_log_id: str
    resource_id: str
    traffic_type: str
    destination: str  # the bucket's ARN with the key prefix, or the log group's ARN
    max_aggregation_interval: str
    file_format: str  # DestinationOptions.FileFormat: plain-text or parquet
    deliver_status: str  # SUCCESS or FAILED (the last delivery's)
    deliver_error: str
    created: str
    destination_type: str = "s3"  # LogDestinationType: s3 or cloud-watch-logs
    log_group: str = ""  # a CloudWatch Logs flow log's group and the role delivering to it
    role_arn: str = ""


def _flow_log(item: Element) -> FlowLogRow:
    return FlowLogRow(
        flow_log_id=text(item, "flowLogId"),
        resource_id=text(item, "resourceId"),
        traffic_type=text(item, "trafficType"),
        destination=text(item, "logDestination"),
        max_aggregation_interval=text(item, "maxAggregationInterval"),
        file_format=text(item, "destinationOptions/fileFormat"),
        deliver_status=text(item, "deliverLogsStatus"),
        deliver_error=text(item, "deliverLogsErrorMessage"),
        created=_when(text(item, "creationTime")),
        destination_type=text(item, "logDestinationType") or "s3",
        log_group=text(item, "logGroupName"),
        role_arn=text(item, "deliverLogsPermissionArn"),
    )


def _refused(root: Element) -> None:
    """The first ``unsuccessful`` item raised as the error it carries."""
    item = root.find("unsuccessful/item")
    if item is not None:
        code = text(item, "error/code") or "InternalError"
        raise WireError(code, text(item, "error/message"), 500 if code == "InternalError" else 400)


async def describe_flow_logs(ec2: Ec2Wire, origin: Scope, who: Principal) -> list[FlowLogRow]:
    """The caller's flow logs, every page of them."""
    rows: list[FlowLogRow] = []
    params: dict[str, str] = {"MaxResults": "1000"}
    while True:
        root = await ec2.call(origin, who, "DescribeFlowLogs", params)
        rows.extend(_flow_log(f) for f in root.iterfind("flowLogSet/item"))
        token = text(root, "nextToken")
        if not token:
            return rows
        params = {"MaxResults": "1000", "NextToken": token}


async def create_flow_log(
    ec2: Ec2Wire,
    origin: Scope,
    who: Principal,
    resource_id: str,
    traffic_type: str,
    destination: str,
    max_aggregation_interval: str,
    *,
    name: str = "",
    token: str = "",
    file_format: str = "",
    destination_type: str = "s3",
    role_arn: str = "",
) -> str:
    """The new flow log's id: ``resource_id``'s (a VPC's or a subnet's, told by its id)
    traffic of ``traffic_type`` delivered to ``destination``, a bucket's ARN with an optional
    key prefix, in ``file_format`` (EC2's default, plain text, when ""); or, with
    ``destination_type`` ``cloud-watch-logs``, to the log group named ``destination`` by the
    role ``role_arn`` (each left out when "", for EC2's own words). ``token``: the form's
    ClientToken, so that the form sent twice makes one."""
    params = {
        "ResourceType": "Subnet" if resource_id.startswith("subnet-") else "VPC",
        "ResourceId.1": resource_id,
        "TrafficType": traffic_type,
        "MaxAggregationInterval": max_aggregation_interval,
        **tagged("vpc-flow-log", name),
    }
    params["LogDestinationType"] = destination_type
    if destination_type == CLOUD_WATCH_LOGS:
        for name, value in (("LogGroupName", destination), ("DeliverLogsPermissionArn", role_arn)):
            if value:
                params[name] = value
    else:
        params["LogDestination"] = destination
    if token:
        params["ClientToken"] = token
    if file_format:
        params["DestinationOptions.FileFormat"] = file_format
    root = await ec2.call(origin, who, "CreateFlowLogs", params)
    _refused(root)
    return text(root, "flowLogIdSet/item")


async def delete_flow_log(ec2: Ec2Wire, origin: Scope, who: Principal, flow_log_id: str) -> None:
    root = await ec2.call(origin, who, "DeleteFlowLogs", {"FlowLogId.1": flow_log_id})
    _refused(root)
