"""A VPC flow log's record and EC2's rules for it, pure (decision 0153).

A **flow log** (``fl-…``) asks the hosts to record the IP traffic of the network interfaces
of a VPC, a subnet or one interface, and the platform to deliver it, as gzip files of one
record a line, into one of the tenant's buckets — or (session 48) as one event a record into
a CloudWatch Logs group of the account, one stream per interface, through an IAM role the
flow log names (``DeliverLogsPermissionArn``). It names what to record (``TrafficType``
ACCEPT, REJECT or ALL), the record's fields (``LogFormat``, EC2's ``${field}`` list; the
version-2 fields by default), how long a host aggregates before it reports
(``MaxAggregationInterval``, 60 or 600 seconds) and how the objects are written and named
(``DestinationOptions``: ``plain-text`` gzip files or ``parquet`` ones, decision 0170).
Whether its deliveries succeed is its ``DeliverLogsStatus``. A flow log to a Firehose stream
may deliver into another account's stream (decision 0370: ``DeliverCrossAccountRole``).

The records themselves and the objects' names are :mod:`andromede.compute.flow_log_files`.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from andromede.compute.errors import InvalidParameterValue, MissingParameter
from andromede.compute.resource_ids import FORMAT_VERSION, Tags

__all__ = [
    "CLOUD_WATCH_LOGS",
    "DEFAULT_FORMAT",
    "FIELDS",
    "FILE_FORMATS",
    "FIREHOSE",
    "DeliverStatus",
    "Destination",
    "FlowLog",
    "ResourceType",
    "TrafficType",
    "check_aggregation",
    "check_file_format",
    "check_options",
    "check_resources",
    "check_traffic",
    "parse_destination",
    "parse_format",
]


class ResourceType(enum.StrEnum):
    VPC = "VPC"
    SUBNET = "Subnet"
    NETWORK_INTERFACE = "NetworkInterface"


class TrafficType(enum.StrEnum):
    ACCEPT = "ACCEPT"
    REJECT = "REJECT"
    ALL = "ALL"

    def records(self, action: str) -> bool:
        """Whether a flow of ``action`` (ACCEPT or REJECT) is recorded by this flow log."""
        return self is TrafficType.ALL or self.value == action


class DeliverStatus(enum.StrEnum):
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"


# The fields a record can carry, as EC2 names them. Those the hosts do not observe (the
# availability zone's id, the ECS ones…) are not offered, rather than written as "-" for
# ever. The TCP flags, the flow's direction, its traffic path and the AWS service of its
# addresses (the object store's, ``S3``): decision 0348.
FIELDS: Final = (
    "version",
    "account-id",
    "interface-id",
    "srcaddr",
    "dstaddr",
    "srcport",
    "dstport",
    "protocol",
    "packets",
    "bytes",
    "start",
    "end",
    "action",
    "log-status",
    "vpc-id",
    "subnet-id",
    "instance-id",
    "region",
    "type",
    "pkt-srcaddr",
    "pkt-dstaddr",
    "tcp-flags",
    "flow-direction",
    "traffic-path",
    "pkt-src-aws-service",
    "pkt-dst-aws-service",
)
# EC2's default format: the version-2 fields.
DEFAULT_FORMAT: Final = FIELDS[:14]
AGGREGATION_INTERVALS: Final = (60, 600)
FILE_FORMATS: Final = ("plain-text", "parquet")
_FIELD = re.compile(r"^\$\{([a-z0-9-]+)\}$")
_FORMAT_MAX: Final = 4096
_PREFIX_MAX: Final = 512
_BUCKET_ARN = re.compile(r"^arn:[a-z-]+:s3:::([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:/(.*))?$")
# The destination types: an S3 bucket, or (session 48) a CloudWatch Logs group, EC2's default.
S3: Final = "s3"
CLOUD_WATCH_LOGS: Final = "cloud-watch-logs"
FIREHOSE: Final = "kinesis-data-firehose"  # decision 0348
_STREAM_ARN = re.compile(
    r"^arn:aws:firehose:([a-z0-9-]+):([^:]+):deliverystream/([a-zA-Z0-9_.-]{1,64})$"
)
# CloudWatch Logs' rule for a group's name (compute does not import the logs context).
_GROUP_NAME = re.compile(r"[.\-_/#A-Za-z0-9]{1,512}")
_GROUP_ARN = re.compile(r"^arn:aws:logs:([a-z0-9-]+):([^:]+):log-group:([^:]+)(?::\*)?$")
_ROLE_ARN = re.compile(r"^arn:aws:iam::[^:/]+:role/[\w+=,.@/-]{1,512}$")


@dataclass(frozen=True, slots=True)
class Destination:
    """An S3 destination: the bucket and the key prefix (``""`` or ending with ``/``); or a
    CloudWatch Logs one (session 48): the log group's name and the role delivery assumes; or
    a Firehose stream's ARN (decision 0348)."""

    bucket: str = ""
    prefix: str = ""
    log_group: str = ""
    role_arn: str = ""
    stream_arn: str = ""
    # Decision 0370: a Firehose stream of another account, reached through ``role_arn`` (a
    # role of the flow log's account) assuming this role of the stream's account.
    cross_account_role: str = ""

    @property
    def cross_account(self) -> bool:
        """Whether the destination is another account's (``DeliverCrossAccountRole``)."""
        return bool(self.cross_account_role)

    @property
    def kind(self) -> str:
        """EC2's ``LogDestinationType``."""
        if self.stream_arn:
            return FIREHOSE
        return CLOUD_WATCH_LOGS if self.log_group else S3

    @property
    def arn(self) -> str:
        """The bucket's ARN (with the prefix); a log group's is :meth:`arn_in`'s."""
        return f"arn:aws:s3:::{self.bucket}" + (
            f"/{self.prefix.rstrip('/')}" if self.prefix else ""
        )

    def arn_in(self, region: str, account: str) -> str:
        """EC2's ``LogDestination``: the bucket's ARN, the log group's in ``account``, or the
        stream's."""
        if self.stream_arn:
            return self.stream_arn
        if self.log_group:
            return f"arn:aws:logs:{region}:{account}:log-group:{self.log_group}"
        return self.arn

    @property
    def identity(self) -> str:
        """What makes two destinations one (a request's digest): S3's is its ARN, as it was."""
        if self.cross_account_role:
            return f"firehose:{self.stream_arn} {self.role_arn} {self.cross_account_role}"
        if self.stream_arn:
            return f"firehose:{self.stream_arn}"
        return f"logs:{self.log_group} {self.role_arn}" if self.log_group else self.arn


@dataclass(frozen=True, slots=True)
class FlowLog:
    flow_log_id: str
    tenant_id: str
    resource_type: ResourceType
    # The VPC, subnet or network interface whose interfaces are recorded (EC2's
    # ``ResourceId``; ``resource_id`` is the record's own id, as every compute record's).
    target_id: str
    traffic_type: TrafficType
    destination: Destination
    log_format: tuple[str, ...]
    max_aggregation_interval: int
    created: datetime
    hive_compatible_partitions: bool = False
    per_hour_partition: bool = False
    file_format: str = "plain-text"  # or "parquet" (decision 0170)
    deliver_status: DeliverStatus = DeliverStatus.SUCCESS
    deliver_error: str = ""
    tags: Tags = ()
    # CreateFlowLogs' ClientToken and a digest of its request.
    client_token: str | None = None
    request_digest: str = ""
    format_version: int = FORMAT_VERSION
    revision: int = 0

    @property
    def resource_id(self) -> str:
        return self.flow_log_id

    @property
    def format_text(self) -> str:
        return " ".join(f"${{{name}}}" for name in self.log_format)


def parse_format(text: str | None) -> tuple[str, ...]:
    """``LogFormat``: ``${field}`` names separated by single spaces, each known and once."""
    if text is None or text == "":
        return DEFAULT_FORMAT
    if len(text) > _FORMAT_MAX:
        raise InvalidParameterValue(f"LogFormat is longer than {_FORMAT_MAX} characters")
    fields: list[str] = []
    for word in text.split(" "):
        match = _FIELD.match(word)
        if match is None:
            raise InvalidParameterValue(f"Invalid LogFormat field '{word[:64]}'")
        name = match.group(1)
        if name not in FIELDS:
            raise InvalidParameterValue(f"Unknown fields provided: {name[:64]}")
        if name in fields:
            raise InvalidParameterValue(f"Duplicate fields provided: {name[:64]}")
        fields.append(name)
    return tuple(fields)


def parse_destination(
    destination_type: str | None,
    destination: str | None,
    *,
    log_group_name: str | None = None,
    role_arn: str | None = None,
    cross_account_role: str | None = None,
    region: str = "",
    account: str = "",
) -> Destination:
    """``LogDestinationType`` (``cloud-watch-logs``, EC2's default, ``s3`` or
    ``kinesis-data-firehose``) and where:
    for S3, ``LogDestination``, a bucket's ARN with an optional key prefix, which may not
    name the ``AWSLogs`` folder itself; for CloudWatch Logs, ``LogGroupName`` or
    ``LogDestination`` (a group's ARN, of ``account`` in ``region``) and the role
    ``DeliverLogsPermissionArn``; for Firehose, ``LogDestination``, a stream's ARN in
    ``region`` (decision 0348): of ``account``, or (decision 0370) of another account with
    ``DeliverCrossAccountRole`` (a role of the stream's account) and
    ``DeliverLogsPermissionArn`` (a role of ``account`` that assumes it). As on AWS,
    cross-account delivery is Firehose's only: the VPC guide's CloudWatch Logs role "must
    belong to your account", and S3 crosses accounts by the bucket's policy instead."""
    kind = CLOUD_WATCH_LOGS if destination_type is None else destination_type
    if cross_account_role and kind != FIREHOSE:
        raise InvalidParameterValue(
            f"DeliverCrossAccountRole is only applicable for {FIREHOSE} delivery"
        )
    if kind == CLOUD_WATCH_LOGS:
        return _log_group_destination(destination, log_group_name, role_arn, region, account)
    if kind not in (S3, FIREHOSE):
        raise InvalidParameterValue(
            f"LogDestinationType '{kind[:32]}' is not supported: flow logs are delivered to"
            " S3 buckets, CloudWatch Logs groups or Firehose streams"
        )
    if log_group_name:
        raise InvalidParameterValue(f"LogGroupName is not applicable for {kind} delivery")
    if role_arn and kind == S3:
        raise InvalidParameterValue(
            f"DeliverLogsPermissionArn is not applicable for {kind} delivery"
        )
    if role_arn and not cross_account_role:
        # Firehose names a role only to cross accounts (decision 0348).
        raise InvalidParameterValue(
            f"DeliverLogsPermissionArn is only applicable for {kind} delivery with"
            " DeliverCrossAccountRole"
        )
    if not destination:
        raise MissingParameter("The request must contain the parameter LogDestination")
    if kind == FIREHOSE:
        return _stream_destination(destination, region, account, role_arn, cross_account_role)
    match = _BUCKET_ARN.match(destination)
    if match is None or ".." in match.group(1):
        raise InvalidParameterValue(
            f"LogDestination: '{destination[:128]}' is not a valid S3 bucket ARN"
        )
    prefix = (match.group(2) or "").strip("/")
    if len(prefix) > _PREFIX_MAX:
        raise InvalidParameterValue(f"The LogDestination prefix exceeds {_PREFIX_MAX} characters")
    if prefix == "AWSLogs" or prefix.startswith("AWSLogs/"):
        raise InvalidParameterValue("The LogDestination prefix cannot use AWSLogs")
    return Destination(match.group(1), f"{prefix}/" if prefix else "")


def _role_account(name: str, arn: str) -> str:
    """The account of a role's ARN, which must be one."""
    match = _ROLE_ARN.match(arn)
    if match is None:
        raise InvalidParameterValue(f"{name}: '{arn[:128]}' is not a valid IAM role ARN")
    return arn.split(":")[4]


def _stream_destination(
    destination: str,
    region: str,
    account: str,
    role_arn: str | None,
    cross_account_role: str | None,
) -> Destination:
    """A Firehose stream's ARN in the caller's region: of its account, put into as the log
    delivery service, no role named; or (decision 0370) of another account, reached through
    ``role_arn`` (the caller's) assuming ``cross_account_role`` (the stream's account's).
    Whether the stream exists, and whether the roles consent, is the delivery's to find
    (``DeliverLogsStatus``), as a bucket's existence is."""
    match = _STREAM_ARN.match(destination)
    if match is None:
        raise InvalidParameterValue(
            f"LogDestination: '{destination[:128]}' is not a valid Firehose delivery stream ARN"
        )
    if match.group(1) != region:
        raise InvalidParameterValue(
            "LogDestination must be a Firehose delivery stream of this region"
        )
    owner = match.group(2)
    if owner == account:
        for name, value in (
            ("DeliverLogsPermissionArn", role_arn),
            ("DeliverCrossAccountRole", cross_account_role),
        ):
            if value:
                raise InvalidParameterValue(
                    f"{name} is only applicable for delivery to a Firehose delivery stream of"
                    " another account"
                )
        return Destination(stream_arn=destination)
    if not cross_account_role:
        raise InvalidParameterValue(
            "LogDestination is a Firehose delivery stream of another account: the request must"
            " contain DeliverCrossAccountRole"
        )
    if not role_arn:
        raise MissingParameter("The request must contain the parameter DeliverLogsPermissionArn")
    if _role_account("DeliverLogsPermissionArn", role_arn) != account:
        raise InvalidParameterValue(
            "DeliverLogsPermissionArn must be an IAM role of the flow log's account"
        )
    if _role_account("DeliverCrossAccountRole", cross_account_role) != owner:
        raise InvalidParameterValue(
            "DeliverCrossAccountRole must be an IAM role of the LogDestination's account"
        )
    return Destination(
        role_arn=role_arn, stream_arn=destination, cross_account_role=cross_account_role
    )


def _log_group_destination(
    destination: str | None,
    log_group_name: str | None,
    role_arn: str | None,
    region: str,
    account: str,
) -> Destination:
    if destination and log_group_name:
        raise InvalidParameterValue(
            "Please only provide LogGroupName or only provide LogDestination."
        )
    if not destination and not log_group_name:
        raise MissingParameter("The request must contain the parameter LogGroupName")
    name = log_group_name or ""
    if destination:
        match = _GROUP_ARN.match(destination)
        if match is None:
            raise InvalidParameterValue(
                f"LogDestination: '{destination[:128]}' is not a valid CloudWatch Logs log"
                " group ARN"
            )
        if match.group(1) != region or match.group(2) != account:
            raise InvalidParameterValue(
                "LogDestination must be a log group of this account and region"
            )
        name = match.group(3)
    if _GROUP_NAME.fullmatch(name) is None:
        raise InvalidParameterValue(f"Invalid LogGroupName '{name[:128]}'")
    if not role_arn:
        raise MissingParameter("The request must contain the parameter DeliverLogsPermissionArn")
    if _ROLE_ARN.match(role_arn) is None:
        raise InvalidParameterValue(
            f"DeliverLogsPermissionArn: '{role_arn[:128]}' is not a valid IAM role ARN"
        )
    return Destination(log_group=name, role_arn=role_arn)


def check_aggregation(value: int | None) -> int:
    if value is None:
        return 600
    if value not in AGGREGATION_INTERVALS:
        raise InvalidParameterValue(
            f"Invalid value {value} for MaxAggregationInterval: it must be 60 or 600"
        )
    return value


def check_options(destination: Destination, given: bool) -> None:
    """``DestinationOptions`` are S3's (EC2 answers them for no other destination)."""
    if given and destination.kind != S3:
        raise InvalidParameterValue("DestinationOptions is only applicable for s3 delivery")


def check_file_format(value: str | None) -> str:
    """``DestinationOptions.FileFormat``: ``plain-text`` (the default) or ``parquet``."""
    if value is None:
        return "plain-text"
    if value not in FILE_FORMATS:
        raise InvalidParameterValue(
            f"Invalid value '{value[:32]}' for FileFormat: it must be plain-text or parquet"
        )
    return value


def check_resources(resource_type: str | None, ids: Sequence[str]) -> ResourceType:
    if resource_type is None:
        raise MissingParameter("The request must contain the parameter ResourceType")
    try:
        kind = ResourceType(resource_type)
    except ValueError:
        raise InvalidParameterValue(
            f"Invalid value '{resource_type[:32]}' for ResourceType"
        ) from None
    if not ids:
        raise MissingParameter("The request must contain the parameter ResourceId")
    return kind


def check_traffic(traffic_type: str | None) -> TrafficType:
    if traffic_type is None:
        raise MissingParameter("The request must contain the parameter TrafficType")
    try:
        return TrafficType(traffic_type)
    except ValueError:
        raise InvalidParameterValue(
            f"Invalid value '{traffic_type[:32]}' for TrafficType"
        ) from None
