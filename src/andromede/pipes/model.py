"""A pipe and its life (decision 0258): what CreatePipe and UpdatePipe say of a pipe, checked
as AWS checks it, its states and the transitions between them. Pure: no I/O.

**States.** A pipe is made ``CREATING``, changed ``UPDATING``, started ``STARTING`` and
stopped ``STOPPING``; the runner's next pass settles each (:func:`settled_state`) in its desired
state, ``RUNNING`` or ``STOPPED``. A pipe in one of these transitional states refuses another
change (AWS's ``ConflictException``), as AWS's does.

**Endpoints.** The sources served are an SQS queue, a Kinesis data stream and a DynamoDB
stream of the pipe's account and Region; the targets an SQS queue, an SNS topic, a Kinesis
data stream, a Firehose stream, an EventBridge event bus, an API destination, a Lambda
function (decision 0294) and a Step Functions state machine (decision 0316). The others AWS
offers (Amazon MQ, MSK, Kafka; ECS, Batch…) are refused by name, never accepted and ignored.
The enrichments served are an API destination (decision 0268), a Lambda function (decision
0294) and an EXPRESS state machine (decision 0316) of the account; API Gateway enrichments
are refused by name. (That a state machine is EXPRESS is the service's check: it asks Step
Functions.)
Parameters are kept in AWS's own shape, as DescribePipe gives them back.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final

from andromede.events.errors import EventsError
from andromede.events.pattern import EventPattern, compile_pattern
from andromede.pipes.errors import InvalidPipe

__all__ = [
    "TRANSITIONAL",
    "Pipe",
    "PipeState",
    "check_enrichment",
    "check_http_parameters",
    "check_log_configuration",
    "check_name",
    "check_source",
    "check_target",
    "compiled_filters",
    "endpoint_kind",
    "pipe_arn",
    "settled_state",
]

_NAME: Final = re.compile(r"[\.\-_A-Za-z0-9]{1,64}")
_ROLE: Final = re.compile(r"arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z0-9+=,.@\-_/]+")
_MAX_FILTERS: Final = 5
_MAX_PATTERN: Final = 4096
_MAX_TEMPLATE: Final = 8192


class PipeState(Enum):
    RUNNING = "RUNNING"
    STOPPED = "STOPPED"
    CREATING = "CREATING"
    UPDATING = "UPDATING"
    DELETING = "DELETING"
    STARTING = "STARTING"
    STOPPING = "STOPPING"


TRANSITIONAL: Final = frozenset(
    {PipeState.CREATING, PipeState.UPDATING, PipeState.STARTING, PipeState.STOPPING}
)


def settled_state(state: PipeState, desired: str) -> PipeState:
    """Where the runner's pass takes a pipe in ``state`` wanted ``desired`` (the transition
    table of the module's docstring)."""
    if state is PipeState.STOPPING:
        return PipeState.STOPPED
    if state in TRANSITIONAL:
        return PipeState.RUNNING if desired == "RUNNING" else PipeState.STOPPED
    return state


@dataclass(frozen=True, slots=True)
class Pipe:
    tenant_id: str
    name: str
    region: str
    source: str
    source_parameters: dict[str, Any]
    target: str
    target_parameters: dict[str, Any]
    role_arn: str
    desired_state: str = "RUNNING"
    current_state: PipeState = PipeState.CREATING
    state_reason: str = ""
    description: str = ""
    tags: tuple[tuple[str, str], ...] = ()
    log_configuration: dict[str, Any] | None = None
    enrichment: str = ""  # an API destination's ARN (decision 0268); "" none
    enrichment_parameters: dict[str, Any] = dataclasses.field(default_factory=dict)
    created: int = 0  # ms
    updated: int = 0  # ms
    revision: int = 1

    @property
    def arn(self) -> str:
        return pipe_arn(self.region, self.tenant_id, self.name)

    @property
    def source_kind(self) -> str:
        return endpoint_kind(self.source)

    @property
    def target_kind(self) -> str:
        return endpoint_kind(self.target)

    def changed(self, **fields: Any) -> Pipe:
        return dataclasses.replace(self, revision=self.revision + 1, **fields)


def pipe_arn(region: str, tenant_id: str, name: str) -> str:
    return f"arn:aws:pipes:{region}:{tenant_id}:pipe/{name}"


def check_name(name: Any) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidPipe(
            "Name must be 1 to 64 characters of letters, digits, '.', '-' and '_'.", "name"
        )
    return name


def check_role(role: Any) -> str:
    if not isinstance(role, str) or len(role) > 1600 or not _ROLE.fullmatch(role):
        raise InvalidPipe(f"RoleArn {str(role)[:256]} is not a valid role ARN.", "roleArn")
    return role


def endpoint_kind(arn: str) -> str:
    """``sqs``, ``kinesis``, ``dynamodb``, ``sns``, ``firehose``, ``event-bus``,
    ``api-destination``, or the ARN's service for one not served."""
    parts = arn.split(":", 5)
    if len(parts) != 6:
        return ""
    service, resource = parts[2], parts[5]
    if service == "dynamodb":
        return "dynamodb" if "/stream/" in resource else "dynamodb-table"
    if service == "events":
        if resource.startswith("event-bus/"):
            return "event-bus"
        if resource.startswith("api-destination/"):
            return "api-destination"
    return service


def _own(arn: str, tenant_id: str, region: str, what: str) -> None:
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[3] != region or parts[4] != tenant_id:
        raise InvalidPipe(
            f"{what} {arn[:256]} is not a resource of the pipe's account and Region.",
            what.lower(),
        )


def _integer(params: Mapping[str, Any], name: str, low: int, high: int, default: int) -> int:
    value = params.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidPipe(f"{name} must be an integer between {low} and {high}.", name)
    return value


def _only(params: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    for name in params:
        if name not in allowed:
            raise InvalidPipe(f"{where}.{name[:128]} is not supported by this platform.", name)


_STREAM_MEMBERS: Final = frozenset(
    {
        "BatchSize",
        "DeadLetterConfig",
        "OnPartialBatchItemFailure",
        "MaximumBatchingWindowInSeconds",
        "MaximumRecordAgeInSeconds",
        "MaximumRetryAttempts",
        "ParallelizationFactor",
        "StartingPosition",
        "StartingPositionTimestamp",
    }
)


def _stream_parameters(
    given: Any, where: str, positions: tuple[str, ...], tenant_id: str, region: str, update: bool
) -> dict[str, Any]:
    if not isinstance(given, Mapping):
        raise InvalidPipe(f"{where} must be an object.", where)
    _only(given, _STREAM_MEMBERS, where)
    checked: dict[str, Any] = {
        "BatchSize": _integer(given, "BatchSize", 1, 10_000, 100),
        "MaximumBatchingWindowInSeconds": _integer(
            given, "MaximumBatchingWindowInSeconds", 0, 300, 0
        ),
        "MaximumRecordAgeInSeconds": _integer(given, "MaximumRecordAgeInSeconds", -1, 604_800, -1),
        "ParallelizationFactor": _integer(given, "ParallelizationFactor", 1, 10, 1),
    }
    # Kept only when given, as AWS describes it: no retry limit is said by its absence (the
    # runner reads none as -1), and Terraform, whose attribute is not computed, saw a -1 it
    # never wrote as drift.
    if "MaximumRetryAttempts" in given:
        checked["MaximumRetryAttempts"] = _integer(given, "MaximumRetryAttempts", -1, 10_000, -1)
    if 0 <= checked["MaximumRecordAgeInSeconds"] < 60:
        raise InvalidPipe(
            "MaximumRecordAgeInSeconds must be -1 or between 60 and 604800.",
            "MaximumRecordAgeInSeconds",
        )
    if not update:
        position = given.get("StartingPosition")
        if position not in positions:
            raise InvalidPipe(
                f"StartingPosition must be one of {', '.join(positions)}.", "StartingPosition"
            )
        checked["StartingPosition"] = position
        if position == "AT_TIMESTAMP":
            stamp = given.get("StartingPositionTimestamp")
            if not isinstance(stamp, int | float) or isinstance(stamp, bool):
                raise InvalidPipe(
                    "StartingPositionTimestamp is required with AT_TIMESTAMP.",
                    "StartingPositionTimestamp",
                )
            checked["StartingPositionTimestamp"] = stamp
    partial = given.get("OnPartialBatchItemFailure")
    if partial is not None:
        if partial != "AUTOMATIC_BISECT":
            raise InvalidPipe(
                "OnPartialBatchItemFailure must be AUTOMATIC_BISECT.", "OnPartialBatchItemFailure"
            )
        checked["OnPartialBatchItemFailure"] = partial
    dead = given.get("DeadLetterConfig")
    # An empty DeadLetterConfig is none (how an UpdatePipe removes it; Terraform sends one on
    # every update of a pipe without a dead-letter queue).
    if dead is not None and not (isinstance(dead, Mapping) and dead.get("Arn") in (None, "")):
        arn = dead.get("Arn") if isinstance(dead, Mapping) else None
        if not isinstance(arn, str) or endpoint_kind(arn) != "sqs":
            raise InvalidPipe("DeadLetterConfig.Arn must be an SQS queue's ARN.", "Arn")
        _own(arn, tenant_id, region, "DeadLetterConfig")
        checked["DeadLetterConfig"] = {"Arn": arn}
    return checked


_SOURCE_MEMBERS: Final = {
    "sqs": "SqsQueueParameters",
    "kinesis": "KinesisStreamParameters",
    "dynamodb": "DynamoDBStreamParameters",
}


def compiled_filters(parameters: Mapping[str, Any]) -> list[EventPattern]:
    """The source's filters (none: every event passes)."""
    criteria = parameters.get("FilterCriteria") or {}
    return [
        compile_pattern(f["Pattern"], max_length=_MAX_PATTERN)
        for f in criteria.get("Filters") or []
        if f.get("Pattern")
    ]


def _filters(given: Any) -> dict[str, Any]:
    if not isinstance(given, Mapping) or not isinstance(given.get("Filters", []), list):
        raise InvalidPipe("FilterCriteria must hold a list of Filters.", "FilterCriteria")
    filters = given.get("Filters", [])
    if len(filters) > _MAX_FILTERS:
        raise InvalidPipe(f"FilterCriteria may hold at most {_MAX_FILTERS} filters.", "Filters")
    kept = []
    for one in filters:
        pattern = one.get("Pattern") if isinstance(one, Mapping) else None
        if not isinstance(pattern, str):
            raise InvalidPipe("Each filter must have a Pattern.", "Pattern")
        try:
            compile_pattern(pattern, max_length=_MAX_PATTERN)
        except EventsError as exc:
            raise InvalidPipe(f"Invalid filter pattern: {exc}", "Pattern") from None
        kept.append({"Pattern": pattern})
    return {"Filters": kept}


def check_source(
    source: Any, given: Any, tenant_id: str, region: str, *, previous: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The source parameters kept for ``source`` (UpdatePipe's when ``previous``: members
    given replace the previous ones, a ``StartingPosition`` stays as it was made)."""
    if not isinstance(source, str) or not source:
        raise InvalidPipe("Source is required.", "source")
    kind = endpoint_kind(source)
    if kind not in _SOURCE_MEMBERS:
        raise InvalidPipe(
            f"Source {source[:256]} is not supported by this platform: the sources served are "
            "SQS queues, Kinesis data streams and DynamoDB streams.",
            "source",
        )
    _own(source, tenant_id, region, "Source")
    given = {} if given is None else given
    if not isinstance(given, Mapping):
        raise InvalidPipe("SourceParameters must be an object.", "sourceParameters")
    member = _SOURCE_MEMBERS[kind]
    for name in given:
        if name not in (member, "FilterCriteria"):
            raise InvalidPipe(
                f"SourceParameters.{name[:128]} does not apply to the source {source[:256]}.", name
            )
    kept: dict[str, Any] = dict(previous or {})
    if "FilterCriteria" in given:
        kept["FilterCriteria"] = _filters(given["FilterCriteria"])
        if not kept["FilterCriteria"].get("Filters"):
            # No filter is no FilterCriteria, as AWS describes it (an UpdatePipe's empty one
            # removes them; Terraform sends one on every update of a pipe without filters).
            del kept["FilterCriteria"]
    if kind == "sqs":
        if member in given or previous is None:
            params = given.get(member) or {}
            if not isinstance(params, Mapping):
                raise InvalidPipe(f"{member} must be an object.", member)
            _only(params, frozenset({"BatchSize", "MaximumBatchingWindowInSeconds"}), member)
            batch = _integer(params, "BatchSize", 1, 10_000, 10)
            window = _integer(params, "MaximumBatchingWindowInSeconds", 0, 300, 0)
            if batch > 10 and window < 1:  # AWS's rule for SQS
                raise InvalidPipe(
                    "MaximumBatchingWindowInSeconds must be at least 1 when BatchSize is above 10.",
                    "MaximumBatchingWindowInSeconds",
                )
            kept[member] = {"BatchSize": batch, "MaximumBatchingWindowInSeconds": window}
        return kept
    positions = ("TRIM_HORIZON", "LATEST") + (("AT_TIMESTAMP",) if kind == "kinesis" else ())
    if previous is None:
        if member not in given:
            raise InvalidPipe(f"{member} is required for the source {source[:256]}.", member)
        kept[member] = _stream_parameters(
            given[member], member, positions, tenant_id, region, update=False
        )
    elif member in given:
        updated = _stream_parameters(
            given[member], member, positions, tenant_id, region, update=True
        )
        for name in ("StartingPosition", "StartingPositionTimestamp"):
            if name in kept.get(member, {}):
                updated[name] = kept[member][name]
        kept[member] = updated
    return kept


_TARGET_MEMBERS: Final = {
    "sqs": "SqsQueueParameters",
    "kinesis": "KinesisStreamParameters",
    "event-bus": "EventBridgeEventBusParameters",
    "api-destination": "HttpParameters",
    "sns": None,
    "firehose": None,
    "logs": "CloudWatchLogsParameters",  # decision 0277
    "lambda": "LambdaFunctionParameters",  # decision 0294
    "states": "StepFunctionStateMachineParameters",  # decision 0316
}
_FUNCTION: Final = re.compile(r"function:[a-zA-Z0-9_-]{1,64}(:(\$LATEST|[a-zA-Z0-9_-]{1,128}))?")
# A state machine, one of its versions (a number) or one of its aliases (decision 0283).
_STATE_MACHINE: Final = re.compile(r"stateMachine:[0-9A-Za-z_-]{1,80}(:[0-9A-Za-z_-]{1,80})?")
_LOG_GROUP: Final = re.compile(r"log-group:[.\-_/#A-Za-z0-9]{1,512}(:\*)?")
_JSON_PATH: Final = re.compile(r"\$(\.[\w/_-]+(\[(\d+|\*)\])*)*")


def _text(params: Mapping[str, Any], name: str, low: int, high: int) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not low <= len(value) <= high:
        raise InvalidPipe(f"{name} must be a string of {low} to {high} characters.", name)
    return value


def check_http_parameters(params: Mapping[str, Any]) -> dict[str, Any]:
    """An API destination's ``HttpParameters`` (a target's or an enrichment's)."""
    _only(
        params,
        frozenset({"PathParameterValues", "HeaderParameters", "QueryStringParameters"}),
        "HttpParameters",
    )
    kept: dict[str, Any] = {}
    paths = params.get("PathParameterValues")
    if paths is not None:
        if (
            not isinstance(paths, list)
            or len(paths) > 1
            or not all(isinstance(p, str) for p in paths)
        ):
            raise InvalidPipe(
                "PathParameterValues must be a list of one string.", "PathParameterValues"
            )
        kept["PathParameterValues"] = list(paths)
    for name in ("HeaderParameters", "QueryStringParameters"):
        value = params.get(name)
        if value is not None:
            if not isinstance(value, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in value.items()
            ):
                raise InvalidPipe(f"{name} must be a map of strings.", name)
            kept[name] = dict(value)
    return kept


def _target_member(kind: str, params: Mapping[str, Any]) -> dict[str, Any]:
    if kind in ("lambda", "states"):
        _only(params, frozenset({"InvocationType"}), _TARGET_MEMBERS[kind] or "")
        invocation = params.get("InvocationType")
        if invocation is None:
            return {}
        if invocation not in ("REQUEST_RESPONSE", "FIRE_AND_FORGET"):
            raise InvalidPipe(
                "InvocationType must be REQUEST_RESPONSE or FIRE_AND_FORGET.", "InvocationType"
            )
        return {"InvocationType": invocation}
    if kind == "sqs":
        _only(params, frozenset({"MessageGroupId", "MessageDeduplicationId"}), "SqsQueueParameters")
        return {
            k: v
            for k in ("MessageGroupId", "MessageDeduplicationId")
            if (v := _text(params, k, 0, 100)) is not None
        }
    if kind == "kinesis":
        _only(params, frozenset({"PartitionKey"}), "KinesisStreamParameters")
        key = _text(params, "PartitionKey", 0, 256)
        if key is None:
            raise InvalidPipe("KinesisStreamParameters.PartitionKey is required.", "PartitionKey")
        return {"PartitionKey": key}
    if kind == "logs":
        _only(params, frozenset({"LogStreamName", "Timestamp"}), "CloudWatchLogsParameters")
        logs = {k: v for k in ("LogStreamName", "Timestamp") if (v := _text(params, k, 1, 256))}
        stream = logs.get("LogStreamName", "")
        if ":" in stream or "*" in stream:
            raise InvalidPipe("LogStreamName may not hold ':' or '*'.", "LogStreamName")
        if "Timestamp" in logs and not _JSON_PATH.fullmatch(logs["Timestamp"]):
            raise InvalidPipe(
                "Timestamp must be a JSON path to the time in the payload ($.time).", "Timestamp"
            )
        return logs
    if kind == "event-bus":
        _only(
            params,
            frozenset({"DetailType", "Source", "Resources", "Time"}),
            "EventBridgeEventBusParameters",
        )
        kept: dict[str, Any] = {}
        for name, high in (("DetailType", 128), ("Source", 256), ("Time", 256)):
            if (value := _text(params, name, 1, high)) is not None:
                kept[name] = value
        source = kept.get("Source", "")
        if source.startswith("aws."):
            raise InvalidPipe("Source may not start with 'aws.'.", "Source")
        resources = params.get("Resources")
        if resources is not None:
            if (
                not isinstance(resources, list)
                or len(resources) > 10
                or not all(isinstance(r, str) for r in resources)
            ):
                raise InvalidPipe("Resources must be a list of at most 10 ARNs.", "Resources")
            kept["Resources"] = list(resources)
        return kept
    return check_http_parameters(params)


def check_target(target: Any, given: Any, tenant_id: str, region: str) -> dict[str, Any]:
    """The target parameters kept for ``target``."""
    if not isinstance(target, str) or not target:
        raise InvalidPipe("Target is required.", "target")
    kind = endpoint_kind(target)
    if kind not in _TARGET_MEMBERS:
        raise InvalidPipe(
            f"Target {target[:256]} is not supported by this platform: the targets served are "
            "SQS queues, SNS topics, Kinesis data streams, Firehose streams, EventBridge event "
            "buses, API destinations, CloudWatch Logs log groups, Lambda functions and Step "
            "Functions state machines.",
            "target",
        )
    _own(target, tenant_id, region, "Target")
    if kind == "logs" and not _LOG_GROUP.fullmatch(target.split(":", 5)[5]):
        raise InvalidPipe(f"Target {target[:256]} is not a log group's ARN.", "target")
    if kind == "lambda" and not _FUNCTION.fullmatch(target.split(":", 5)[5]):
        raise InvalidPipe(f"Target {target[:256]} is not a function's ARN.", "target")
    if kind == "states" and not _STATE_MACHINE.fullmatch(target.split(":", 5)[5]):
        raise InvalidPipe(f"Target {target[:256]} is not a state machine's ARN.", "target")
    given = {} if given is None else given
    if not isinstance(given, Mapping):
        raise InvalidPipe("TargetParameters must be an object.", "targetParameters")
    member = _TARGET_MEMBERS[kind]
    kept: dict[str, Any] = {}
    for name, value in given.items():
        if name == "InputTemplate":
            if not isinstance(value, str) or len(value) > _MAX_TEMPLATE:
                raise InvalidPipe(
                    f"InputTemplate must be at most {_MAX_TEMPLATE} characters.", "InputTemplate"
                )
            if value:
                kept["InputTemplate"] = value
        elif name == member and isinstance(value, Mapping):
            kept[name] = _target_member(kind, value)
        else:
            raise InvalidPipe(
                f"TargetParameters.{name[:128]} does not apply to the target {target[:256]}.", name
            )
    if kind == "kinesis" and member not in kept:
        raise InvalidPipe(
            "KinesisStreamParameters.PartitionKey is required for a Kinesis stream target.",
            "PartitionKey",
        )
    return kept


_REFUSED_ENRICHMENTS: Final = {"execute-api": "API Gateway APIs"}
_ENRICHMENTS: Final = (
    "EventBridge API destinations, Lambda functions and Step Functions EXPRESS state machines"
)
_ENRICHMENT_ARNS: Final = {"lambda": _FUNCTION, "states": _STATE_MACHINE}


def check_enrichment(
    enrichment: Any, given: Any, tenant_id: str, region: str
) -> tuple[str, dict[str, Any]]:
    """The enrichment kept (an API destination, a Lambda function or a state machine of the
    pipe's account; "" none) and its ``EnrichmentParameters`` (``InputTemplate``;
    ``HttpParameters`` for an API destination). API Gateway enrichments are refused by name:
    they are not served here."""
    given = {} if given is None else given
    if not isinstance(given, Mapping):
        raise InvalidPipe("EnrichmentParameters must be an object.", "enrichmentParameters")
    if enrichment is None or enrichment == "":
        if given:
            raise InvalidPipe(
                "EnrichmentParameters requires an Enrichment.", "enrichmentParameters"
            )
        return "", {}
    if not isinstance(enrichment, str) or len(enrichment) > 1600:
        raise InvalidPipe("Enrichment must be an ARN.", "enrichment")
    kind = endpoint_kind(enrichment)
    if kind in _REFUSED_ENRICHMENTS:
        raise InvalidPipe(
            f"Enrichment {enrichment[:256]} is not supported by this platform: "
            f"{_REFUSED_ENRICHMENTS[kind]} are not served here; the enrichments served are "
            f"{_ENRICHMENTS}.",
            "enrichment",
        )
    shape = _ENRICHMENT_ARNS.get(kind)
    if kind != "api-destination" and (
        shape is None or not shape.fullmatch(enrichment.split(":", 5)[5])
    ):
        raise InvalidPipe(
            f"Enrichment {enrichment[:256]} is not a valid enrichment: the enrichments served "
            f"are {_ENRICHMENTS}.",
            "enrichment",
        )
    _own(enrichment, tenant_id, region, "Enrichment")
    members = {"InputTemplate", "HttpParameters"} if kind == "api-destination" else set()
    _only(given, frozenset({"InputTemplate", *members}), "EnrichmentParameters")
    kept: dict[str, Any] = {}
    template = given.get("InputTemplate")
    if template is not None:
        if not isinstance(template, str) or len(template) > _MAX_TEMPLATE:
            raise InvalidPipe(
                f"InputTemplate must be at most {_MAX_TEMPLATE} characters.", "InputTemplate"
            )
        if template:
            kept["InputTemplate"] = template
    http = given.get("HttpParameters")
    if http is not None:
        if not isinstance(http, Mapping):
            raise InvalidPipe("HttpParameters must be an object.", "HttpParameters")
        kept["HttpParameters"] = check_http_parameters(http)
    return enrichment, kept


_BUCKET: Final = re.compile(r"[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]")
_ACCOUNT: Final = re.compile(r"\d{12}")
_FIREHOSE: Final = re.compile(
    r"arn:aws[a-z\-]*:firehose:[^:]+:\d{12}:deliverystream/[a-zA-Z0-9_.\-]{1,64}"
)
_LOG_MEMBERS: Final = frozenset(
    {
        "Level",
        "CloudwatchLogsLogDestination",
        "S3LogDestination",
        "FirehoseLogDestination",
        "IncludeExecutionData",
    }
)


def _s3_log_destination(given: Any, tenant_id: str) -> dict[str, Any]:
    if not isinstance(given, Mapping):
        raise InvalidPipe("S3LogDestination must be an object.", "S3LogDestination")
    _only(
        given,
        frozenset({"BucketName", "BucketOwner", "OutputFormat", "Prefix"}),
        "S3LogDestination",
    )
    bucket = given.get("BucketName")
    if not isinstance(bucket, str) or not _BUCKET.fullmatch(bucket):
        raise InvalidPipe("S3LogDestination.BucketName must be a bucket's name.", "BucketName")
    owner = given.get("BucketOwner")
    if not isinstance(owner, str) or not _ACCOUNT.fullmatch(owner):
        raise InvalidPipe("S3LogDestination.BucketOwner must be an account id.", "BucketOwner")
    if owner != tenant_id:
        raise InvalidPipe(
            f"S3LogDestination.BucketOwner {owner} is not the pipe's account: the bucket must "
            "be of the pipe's account.",
            "BucketOwner",
        )
    kept: dict[str, Any] = {"BucketName": bucket, "BucketOwner": owner}
    fmt = given.get("OutputFormat", "json")
    if fmt not in ("json", "plain", "w3c"):
        raise InvalidPipe(
            "S3LogDestination.OutputFormat must be json, plain or w3c.", "OutputFormat"
        )
    kept["OutputFormat"] = fmt
    prefix = given.get("Prefix")
    if prefix is not None:
        if not isinstance(prefix, str) or len(prefix) > 256:
            raise InvalidPipe("S3LogDestination.Prefix must be at most 256 characters.", "Prefix")
        if prefix:
            kept["Prefix"] = prefix
    return kept


def check_log_configuration(given: Any, tenant_id: str, region: str) -> dict[str, Any] | None:
    """LogConfiguration: a CloudWatch Logs group, an S3 bucket and a Firehose stream of the
    account, any of them (decision 0268), at one ``Level``."""
    if given is None:
        return None
    if not isinstance(given, Mapping):
        raise InvalidPipe("LogConfiguration must be an object.", "logConfiguration")
    level = given.get("Level")
    if level not in ("OFF", "ERROR", "INFO", "TRACE"):
        raise InvalidPipe("LogConfiguration.Level must be OFF, ERROR, INFO or TRACE.", "Level")
    kept: dict[str, Any] = {"Level": level}
    for name in given:
        if name not in _LOG_MEMBERS:
            raise InvalidPipe(f"LogConfiguration.{name[:128]} is not valid.", name)
    logs = given.get("CloudwatchLogsLogDestination")
    if logs is not None:
        arn = logs.get("LogGroupArn") if isinstance(logs, Mapping) else None
        if not isinstance(arn, str) or not arn.startswith("arn:aws:logs:"):
            raise InvalidPipe(
                "CloudwatchLogsLogDestination.LogGroupArn must be a log group's ARN.", "LogGroupArn"
            )
        _own(arn, tenant_id, region, "LogGroupArn")
        kept["CloudwatchLogsLogDestination"] = {"LogGroupArn": arn}
    if given.get("S3LogDestination") is not None:
        kept["S3LogDestination"] = _s3_log_destination(given["S3LogDestination"], tenant_id)
    firehose = given.get("FirehoseLogDestination")
    if firehose is not None:
        arn = firehose.get("DeliveryStreamArn") if isinstance(firehose, Mapping) else None
        if not isinstance(arn, str) or not _FIREHOSE.fullmatch(arn):
            raise InvalidPipe(
                "FirehoseLogDestination.DeliveryStreamArn must be a Firehose stream's ARN.",
                "DeliveryStreamArn",
            )
        _own(arn, tenant_id, region, "DeliveryStreamArn")
        kept["FirehoseLogDestination"] = {"DeliveryStreamArn": arn}
    included = given.get("IncludeExecutionData")
    if included is not None:
        if included not in ([], ["ALL"]):
            raise InvalidPipe('IncludeExecutionData must be [] or ["ALL"].', "IncludeExecutionData")
        kept["IncludeExecutionData"] = list(included)
    return kept


def parameters_text(parameters: Mapping[str, Any] | None) -> str:
    return json.dumps(parameters or {}, sort_keys=True, separators=(",", ":"))
