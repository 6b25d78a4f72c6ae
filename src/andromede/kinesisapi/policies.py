"""Kinesis resource policies (decision 0248): PutResourcePolicy, GetResourcePolicy and
DeleteResourcePolicy on a stream's ARN or a registered consumer's, each authorised as
``kinesis:<Action>`` on that ARN by the owner's account only (AWS: "belong to the owner's
account"), and the check a policy passes before it is kept.

A policy is the IAM engine's resource-policy grammar (a ``Principal`` in every statement…),
at most ``kinesis_max_policy_size`` bytes, and its actions are those AWS lets a Kinesis
resource policy share: the data calls on a stream (:data:`STREAM_POLICY_ACTIONS`), reading
through a consumer (:data:`CONSUMER_POLICY_ACTIONS`); a pattern naming none of them is
refused ``InvalidArgumentException``, as AWS refuses one. GetResourcePolicy of a resource
without a policy answers ``{}``, as AWS does.
"""

from __future__ import annotations

from typing import Any, Final

from andromede.iam.policy import MalformedPolicy, PolicyKind, parse_policy
from andromede.iam.policy.wildcard import compile_wildcard
from andromede.kinesisapi.consumers import consumer_arn, named_consumer
from andromede.kinesisapi.errors import KinesisWireError
from andromede.kinesisapi.params import Handler, KinesisCall
from andromede.kinesisapi.streams import named_stream

__all__ = [
    "CONSUMER_POLICY_ACTIONS",
    "POLICY_ACTIONS",
    "STREAM_POLICY_ACTIONS",
    "check_policy",
]

STREAM_POLICY_ACTIONS: Final = (
    "kinesis:DescribeStreamSummary",
    "kinesis:GetRecords",
    "kinesis:GetShardIterator",
    "kinesis:ListShards",
    "kinesis:PutRecord",
    "kinesis:PutRecords",
    "kinesis:RegisterStreamConsumer",
)
CONSUMER_POLICY_ACTIONS: Final = ("kinesis:DescribeStreamConsumer", "kinesis:SubscribeToShard")
_NO_POLICY: Final = "{}"


def _refused(message: str) -> KinesisWireError:
    return KinesisWireError("InvalidArgumentException", message)


def check_policy(text: str, *, consumer: bool, max_size: int) -> None:
    """InvalidArgumentException unless ``text`` is a resource policy a stream (or, with
    ``consumer``, a consumer) may carry."""
    size = len(text.encode())
    if size > max_size:
        raise _refused(f"Policy size {size} exceeds the limit of {max_size} bytes.")
    try:
        document = parse_policy(text, kind=PolicyKind.RESOURCE)
    except MalformedPolicy as exc:
        raise _refused(f"Invalid policy: {exc}") from exc
    offered = CONSUMER_POLICY_ACTIONS if consumer else STREAM_POLICY_ACTIONS
    kind = "consumer" if consumer else "data stream"
    for statement in document.statements:
        if statement.not_action:
            if not any(statement.matches_action(a.lower()) for a in offered):
                raise _refused(f"NotAction of statement {statement.index + 1} leaves no action "
                               f"a {kind} resource policy supports.")  # fmt: skip
            continue
        for pattern in statement.actions:
            glob = compile_wildcard(pattern.lower())
            if not any(glob.fullmatch(a.lower()) for a in offered):
                raise _refused(
                    f"Action {pattern[:128]} is not supported in a {kind} resource policy: "
                    f"{', '.join(offered)}."
                )


async def _resource(call: KinesisCall, action: str) -> tuple[str, str, str | None, str | None]:
    """(stream name, ARN, consumer name or None, its current policy) of ``ResourceARN``,
    once the caller may do ``action`` on it."""
    arn = call.required("ResourceARN", max_length=2048)
    if consumer_arn(arn):
        stream, consumer = await named_consumer(call, action, arn)
        return stream.name, arn, consumer.name, consumer.policy
    stream = await named_stream(call, action, None, call.arn_name(arn))
    return stream.name, stream.arn, None, stream.policy


async def put_resource_policy(call: KinesisCall) -> dict[str, Any]:
    text = call.required("Policy", max_length=2**31 - 1)
    name, _, consumer, _ = await _resource(call, "PutResourcePolicy")
    check_policy(text, consumer=consumer is not None, max_size=call.max_policy_size)
    await call.kinesis.set_policy(call.account, name, consumer, text)
    return {}


async def get_resource_policy(call: KinesisCall) -> dict[str, Any]:
    _, _, _, policy = await _resource(call, "GetResourcePolicy")
    return {"Policy": policy or _NO_POLICY}


async def delete_resource_policy(call: KinesisCall) -> dict[str, Any]:
    name, arn, consumer, policy = await _resource(call, "DeleteResourcePolicy")
    if policy is None:
        raise KinesisWireError("ResourceNotFoundException", f"No resource policy found for "
                               f"resource {arn[:512]}.")  # fmt: skip
    await call.kinesis.set_policy(call.account, name, consumer, None)
    return {}


POLICY_ACTIONS: Final[dict[str, Handler]] = {
    "DeleteResourcePolicy": delete_resource_policy,
    "GetResourcePolicy": get_resource_policy,
    "PutResourcePolicy": put_resource_policy,
}
