"""PutTargets' checks of one target (decision 0192): its id, an ARN of an SQS queue, an
SNS topic, an API destination (decision 0200, with its ``RoleArn`` and ``HttpParameters``), a
Kinesis data stream (with its ``RoleArn`` and ``KinesisParameters``) or a Firehose delivery
stream (with its ``RoleArn``; decision 0238), a Lambda function (decision 0293: its ARN,
unqualified or with a version or alias; no role, as AWS invokes it by the function's
resource-based policy) or a CloudWatch Logs log group (decision 0277:
no role, as AWS writes by the group's resource policy; no ``Input`` nor ``InputPath``, and an
``InputTransformer`` only of AWS's ``{"timestamp": <…>, "message": <…>}`` shape) of the
caller's account and region, or an event bus of the region, the caller's or another
account's (decision 0273: ``RoleArn`` required for another account's, no input settings: the
bus receives the event itself); a queue, topic or Kinesis stream of another account of the
region with an execution ``RoleArn`` of the caller's account (decision 0273); one at most of
``Input``, ``InputPath`` and ``InputTransformer``, a FIFO queue's ``MessageGroupId``, a
``RetryPolicy`` within AWS's ranges and a ``DeadLetterConfig`` naming an SQS queue. Members of
targets not served here (``EcsParameters``, ``BatchParameters``…) are refused by name rather
than stored and ignored. Pure: no I/O.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Final

from andromede.events.errors import ValidationError
from andromede.events.model import Target, check_target_id, parse_arn
from andromede.events.transform import check_path, check_transformer

__all__ = ["check_log_group_input", "check_target"]

_PLACEHOLDER: Final = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|<[A-Za-z0-9_.\-]+>')
_API_DESTINATION: Final = re.compile(r"api-destination/[\.\-_A-Za-z0-9]{1,64}/[\-A-Za-z0-9]+")
# Decision 0273: the targets AWS sends to in another account (of those served here).
_CROSS_ACCOUNT: Final = frozenset({"sqs", "sns", "kinesis"})
_ACCOUNT: Final = re.compile(r"\d{12}")
# Decision 0273: an event bus of any account (a partner bus's "/" never a target here).
_EVENT_BUS: Final = re.compile(r"event-bus/[\.\-_A-Za-z0-9]{1,256}")
# Decision 0238: the resources of a Kinesis data stream's and a Firehose stream's ARNs.
_STREAMS: Final = {
    "kinesis": re.compile(r"stream/[a-zA-Z0-9_.\-]{1,128}"),
    "firehose": re.compile(r"deliverystream/[a-zA-Z0-9_.\-]{1,64}"),
}
# Decision 0277: a log group's ARN, with or without the ":*" DescribeLogGroups answers.
_LOG_GROUP: Final = re.compile(r"log-group:[.\-_/#A-Za-z0-9]{1,512}(:\*)?")
# Decision 0293: a function's ARN, unqualified or with its version or alias.
_FUNCTION: Final = re.compile(r"function:[a-zA-Z0-9_-]{1,64}(:(\$LATEST|[a-zA-Z0-9_-]{1,128}))?")

_KNOWN: Final = frozenset(
    {
        "Id",
        "Arn",
        "RoleArn",
        "Input",
        "InputPath",
        "InputTransformer",
        "SqsParameters",
        "HttpParameters",
        "KinesisParameters",
        "RetryPolicy",
        "DeadLetterConfig",
    }
)


def check_target(
    spec: Mapping[str, Any],
    *,
    tenant_id: str,
    region: str,
    max_input: int = 8192,
    bus_regions: frozenset[str] = frozenset(),
) -> Target:
    """The target ``spec`` (PutTargets' member) describes, or ValidationError;
    ``bus_regions``: the other Regions whose event buses may be targets (decision 0349)."""
    if not isinstance(spec, Mapping):
        raise ValidationError("Each target must be an object.")
    target_id = spec.get("Id")
    arn = spec.get("Arn")
    if not isinstance(target_id, str) or not isinstance(arn, str):
        raise ValidationError("Each target must have an Id and an Arn.")
    check_target_id(target_id)
    if len(arn) > 1600 or not isinstance(spec.get("RoleArn", ""), str):
        raise ValidationError(f"Arn and RoleArn of {target_id} must be strings of 1,600 at most.")
    unknown = sorted(set(spec) - _KNOWN)
    if unknown:
        raise ValidationError(
            f"Parameter {unknown[0][:64]} is not supported for target {target_id}: only SQS "
            "queue, SNS topic, API destination, Kinesis stream, Firehose stream, event bus, "
            "log group and Lambda function targets are served (decisions 0192, 0200, 0238, "
            "0273, 0277, 0293)."
        )
    service = _service_of(
        arn,
        tenant_id=tenant_id,
        region=region,
        target_id=target_id,
        other_accounts=True,
        bus_regions=bus_regions,
    )
    owner = (parse_arn(arn) or ("", "", "", ""))[2]
    if owner != tenant_id and service != "event-bus":
        # AWS's "Sending events to an AWS service in another account": as an execution role
        # of the rule's account, which the target's resource policy must let in.
        _check_own_role(spec.get("RoleArn"), arn, target_id, tenant_id)
    _check_input(spec, target_id, max_input)
    if service == "event-bus":
        _check_bus_target(spec, arn, target_id, tenant_id=tenant_id, region=region)
    if service == "events":
        _check_api_destination(spec, target_id)
    elif "HttpParameters" in spec:
        raise ValidationError(f"HttpParameters is only for API destination targets ({target_id}).")
    if service in _STREAMS:
        _check_stream_role(spec.get("RoleArn"), arn)
    if service == "logs":
        check_log_group_input(spec, target_id)
    if service == "kinesis":
        _check_partition_key(spec.get("KinesisParameters"))
    elif "KinesisParameters" in spec:
        raise ValidationError(
            f"KinesisParameters is only for Kinesis stream targets ({target_id})."
        )
    for member in ("SqsParameters", "RetryPolicy", "DeadLetterConfig", "InputTransformer"):
        if member in spec and not isinstance(spec[member], dict):
            raise ValidationError(f"{member} of {target_id} must be an object.")
    fifo = service == "sqs" and arn.endswith(".fifo")
    group = (spec.get("SqsParameters") or {}).get("MessageGroupId")
    if "SqsParameters" in spec and service != "sqs":
        raise ValidationError(f"SqsParameters is only for SQS targets ({target_id}).")
    if fifo and not (isinstance(group, str) and 0 < len(group) <= 128):
        raise ValidationError(
            f"Parameter(s) SqsParameters must be specified for target: {target_id}."
        )
    if group is not None and not fifo:
        raise ValidationError(f"MessageGroupId is only for FIFO queues ({target_id}).")
    _check_retry(spec.get("RetryPolicy"), target_id)
    dead_letter = spec.get("DeadLetterConfig")
    if dead_letter is not None:
        dlq = dead_letter.get("Arn") if isinstance(dead_letter, dict) else None
        if not isinstance(dlq, str) or (parse_arn(dlq) or ("",))[0] != "sqs":
            raise ValidationError(f"DeadLetterConfig of {target_id} must name an SQS queue.")
        _service_of(dlq, tenant_id=tenant_id, region=region, target_id=target_id)
    return Target(target_id, arn, json.loads(json.dumps(dict(spec))))


def _service_of(
    arn: str,
    *,
    tenant_id: str,
    region: str,
    target_id: str,
    other_accounts: bool = False,
    bus_regions: frozenset[str] = frozenset(),
) -> str:
    """The target's kind (its ARN's service, ``event-bus`` for a bus); ``other_accounts``:
    whether a target of another account is acceptable (a rule's target, not a dead-letter
    queue); ``bus_regions``: the other Regions whose buses are served (decision 0349)."""
    parts = parse_arn(arn)
    if parts is None:
        raise ValidationError(
            f"Parameter {arn[:256]} is not valid. Reason: Provided Arn is not in correct format."
        )
    service, arn_region, account, resource = parts
    if account != tenant_id and _ACCOUNT.fullmatch(account) is None:
        raise ValidationError(
            f"Parameter {arn[:256]} is not valid. Reason: Provided Arn is not in correct format."
        )
    if service == "events" and _EVENT_BUS.fullmatch(resource) is not None:
        if arn_region != region and arn_region not in bus_regions:
            # Decision 0349: a bus of a Region the deployment does not declare could never
            # receive, so it is refused now rather than at delivery.
            served = ", ".join(sorted({region, *bus_regions}))
            raise ValidationError(
                f"Target {target_id}: event buses of Region {arn_region[:64]} are not served: "
                f"this deployment's EventBridge serves the Regions {served}."
            )
        return "event-bus"
    destination = service == "events" and _API_DESTINATION.fullmatch(resource) is not None
    stream = service in _STREAMS and _STREAMS[service].fullmatch(resource) is not None
    plain = service in ("sqs", "sns") and ":" not in resource and "/" not in resource
    log_group = service == "logs" and _LOG_GROUP.fullmatch(resource) is not None
    function = service == "lambda" and _FUNCTION.fullmatch(resource) is not None
    if not (destination or stream or plain or log_group or function):
        raise ValidationError(
            f"Target {target_id}: only SQS queues, SNS topics, API destinations, Kinesis "
            "streams, Firehose streams, event buses, Lambda functions and log groups are "
            "served as targets (decisions 0192, 0200, 0238, 0273, 0277, 0293)."
        )
    if arn_region != region:
        raise ValidationError(
            f"Target {target_id}: the queue, topic, stream, log group or function must be of "
            "this Region."
        )
    if account != tenant_id and not (other_accounts and service in _CROSS_ACCOUNT):
        raise ValidationError(
            f"Target {target_id}: the target must be of this account: of another account, "
            "SQS queues, SNS topics, Kinesis streams and event buses are served (decision 0273)."
        )
    return service


def _check_bus_target(
    spec: Mapping[str, Any], arn: str, target_id: str, *, tenant_id: str, region: str
) -> None:
    """Decision 0273: an event bus receives the matched event itself, so no input setting
    applies (AWS takes none for a bus target); another account's bus is written as the
    target's role, which must be given, as AWS requires of new cross-account bus targets
    since 2023. The role is the rule's account's (AWS: "in the same account as the event
    bus")."""
    given = [name for name in ("Input", "InputPath", "InputTransformer") if name in spec]
    if given:
        raise ValidationError(
            f"{given[0]} is not supported for target {target_id}: an event bus receives the "
            "event as it is."
        )
    role = spec.get("RoleArn")
    _, arn_region, owner, _ = parse_arn(arn) or ("", "", "", "")
    if role is None and owner == tenant_id and arn_region == region:
        # The account's own bus of the Region: EventBridge writes it for the account. Of
        # another Region, AWS requires the role as of another account (decision 0349).
        return
    _check_own_role(role, arn, target_id, tenant_id)


def _check_own_role(role: Any, arn: str, target_id: str, tenant_id: str) -> None:
    """An execution role, required, of the rule's account (AWS: "This execution role must be
    in the same account as the event bus")."""
    _check_stream_role(role, arn)
    if (parse_arn(str(role)) or ("", "", "", ""))[2] != tenant_id:
        raise ValidationError(
            f"RoleArn of {target_id} must be a role of the rule's account {tenant_id}."
        )


def _check_stream_role(role: Any, arn: str) -> None:
    """Decision 0238: EventBridge writes into a Kinesis or Firehose stream as the target's
    role, which must be given (AWS's words when it is not)."""
    if not isinstance(role, str) or not role:
        raise ValidationError(f"RoleArn is required for target {arn}.")
    parts = parse_arn(role)
    if parts is None or parts[0] != "iam" or not parts[3].startswith("role/"):
        raise ValidationError(
            f"Parameter {role[:256]} is not valid. Reason: Provided Arn is not in correct format."
        )


def check_log_group_input(spec: Mapping[str, Any], target_id: str) -> None:
    """Decision 0277: what a log group target takes of the event — the whole event, or an
    ``InputTransformer`` whose template is AWS's ``{"timestamp": <…>, "message": <…>}`` for
    a log target (its placeholders as they stand, outside string literals or within)."""
    for member in ("Input", "InputPath"):
        if member in spec:
            raise ValidationError(
                f"{member} is not supported for target {target_id}: a CloudWatch Logs log group "
                'takes the event, or an InputTransformer of {"timestamp": <timestamp>, '
                '"message": <message>}.'
            )
    transformer = spec.get("InputTransformer")
    if not isinstance(transformer, dict):
        return
    template = transformer.get("InputTemplate")
    shape: Any = None
    if isinstance(template, str):
        try:
            # A string literal stays; a placeholder outside one stands for a value.
            shape = json.loads(
                _PLACEHOLDER.sub(lambda m: m[0] if m[0][0] == '"' else '"p"', template)
            )
        except ValueError:
            shape = None
    if not isinstance(shape, dict) or set(shape) != {"timestamp", "message"}:
        raise ValidationError(
            f"InputTemplate for target {target_id} contains invalid format: a CloudWatch Logs "
            'target\'s template must be {"timestamp": <timestamp>, "message": <message>}.'
        )


def _check_partition_key(params: Any) -> None:
    """A Kinesis target's ``KinesisParameters``, when given: exactly a ``PartitionKeyPath``,
    a JSON path into the event (without it, the event's id is the partition key)."""
    if params is None:
        return
    if not isinstance(params, dict) or set(params) != {"PartitionKeyPath"}:
        raise ValidationError("KinesisParameters must hold exactly a PartitionKeyPath.")
    path = params["PartitionKeyPath"]
    if not isinstance(path, str) or len(path) > 256:
        raise ValidationError("PartitionKeyPath must be a JSON path of 256 characters at most.")
    check_path(path)


def _check_api_destination(spec: Mapping[str, Any], target_id: str) -> None:
    """AWS invokes an API destination as the target's role: it must be given."""
    role = spec.get("RoleArn")
    if not isinstance(role, str) or (parse_arn(role) or ("",))[0] != "iam":
        raise ValidationError(
            f"RoleArn is required for target {target_id}: an API destination is invoked as a "
            "role allowed events:InvokeApiDestination."
        )
    params = spec.get("HttpParameters")
    if params is None:
        return
    if not isinstance(params, dict) or set(params) - {
        "PathParameterValues",
        "HeaderParameters",
        "QueryStringParameters",
    }:
        raise ValidationError(f"HttpParameters of {target_id} is not valid.")
    values = params.get("PathParameterValues", [])
    if not isinstance(values, list) or not all(
        isinstance(v, str) and len(v) <= 512 for v in values
    ):
        raise ValidationError(f"PathParameterValues of {target_id} must be a list of strings.")
    for member in ("HeaderParameters", "QueryStringParameters"):
        pairs = params.get(member, {})
        if not isinstance(pairs, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and len(k) <= 512 and len(v) <= 512
            for k, v in pairs.items()
        ):
            raise ValidationError(f"{member} of {target_id} must map strings to strings.")


def _check_input(spec: Mapping[str, Any], target_id: str, max_input: int) -> None:
    given = [name for name in ("Input", "InputPath", "InputTransformer") if name in spec]
    if len(given) > 1:
        raise ValidationError(
            f"Only one of Input, InputPath, or InputTransformer must be provided ({target_id})."
        )
    if "Input" in spec:
        text = spec["Input"]
        if not isinstance(text, str) or len(text) > max_input:
            raise ValidationError(f"Input of {target_id} must be at most {max_input} characters.")
        try:
            json.loads(text)
        except ValueError as exc:
            raise ValidationError(f"Input of {target_id} is not valid JSON text.") from exc
    if "InputPath" in spec:
        if not isinstance(spec["InputPath"], str):
            raise ValidationError(f"InputPath of {target_id} must be a JSON path.")
        check_path(spec["InputPath"])
    if "InputTransformer" in spec:
        transformer = spec["InputTransformer"]
        if not isinstance(transformer, dict):
            raise ValidationError(f"InputTransformer of {target_id} must be an object.")
        check_transformer(transformer, max_template=max_input)


def _check_retry(policy: Any, target_id: str) -> None:
    if policy is None:
        return
    if not isinstance(policy, dict) or set(policy) - {
        "MaximumRetryAttempts",
        "MaximumEventAgeInSeconds",
    }:
        raise ValidationError(f"RetryPolicy of {target_id} is not valid.")
    attempts = policy.get("MaximumRetryAttempts", 0)
    age = policy.get("MaximumEventAgeInSeconds", 60)
    if isinstance(attempts, bool) or not isinstance(attempts, int) or not 0 <= attempts <= 185:
        raise ValidationError("MaximumRetryAttempts must be between 0 and 185.")
    if isinstance(age, bool) or not isinstance(age, int) or not 60 <= age <= 86_400:
        raise ValidationError("MaximumEventAgeInSeconds must be between 60 and 86400.")
