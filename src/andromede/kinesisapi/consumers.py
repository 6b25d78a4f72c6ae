"""Kinesis' stream consumer registry (decision 0228): RegisterStreamConsumer,
DescribeStreamConsumer, ListStreamConsumers and DeregisterStreamConsumer, each authorised as
``kinesis:<Action>`` on the stream's ARN (register, list) or the consumer's (describe,
deregister), as AWS's IAM names them. Consumers are ACTIVE at once; they read through
SubscribeToShard (``subscribe.py``, decision 0242)."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any, Final

from andromede.kinesis.model import Consumer, Stream
from andromede.kinesisapi.errors import KinesisWireError
from andromede.kinesisapi.params import Handler, KinesisCall, invalid
from andromede.kinesisapi.streams import named_stream

__all__ = ["CONSUMER_ACTIONS", "consumer_arn", "named_consumer"]

_NAME: Final = re.compile(r"[a-zA-Z0-9_.-]{1,128}")
_CONSUMER_ARN: Final = re.compile(
    r"(arn:aws[\w-]*:kinesis:[a-z0-9-]+:\d{12}:stream/[a-zA-Z0-9_.-]{1,128})"
    r"/consumer/([a-zA-Z0-9_.-]{1,128}):(\d+)"
)


def _described(stream: Stream, consumer: Consumer, *, with_stream: bool) -> dict[str, Any]:
    described: dict[str, Any] = {
        "ConsumerName": consumer.name,
        "ConsumerARN": consumer.arn(stream.arn),
        "ConsumerStatus": "ACTIVE",
        "ConsumerCreationTimestamp": round(consumer.created / 1000, 3),
    }
    if with_stream:
        described["StreamARN"] = stream.arn
    return described


def _consumer_name(call: KinesisCall) -> str:
    name = call.required("ConsumerName", max_length=128)
    if not _NAME.fullmatch(name):
        raise invalid("ConsumerName", "Member must satisfy regular expression pattern: "
                      "[a-zA-Z0-9_.-]+")  # fmt: skip
    return name


def consumer_arn(arn: str) -> bool:
    """Whether ``arn`` has the shape of a consumer's ARN."""
    return _CONSUMER_ARN.fullmatch(arn) is not None


async def named_consumer(
    call: KinesisCall, action: str, arn: str | None = None
) -> tuple[Stream, Consumer]:
    """The consumer ``arn`` (else ``ConsumerARN``) names, or ``StreamARN`` and
    ``ConsumerName`` together, once the caller may do ``action`` on it."""
    arn = arn or call.string("ConsumerARN", min_length=1, max_length=2048)
    if arn is not None:
        match = _CONSUMER_ARN.fullmatch(arn)
        if match is None:
            raise invalid("ConsumerARN", "Member must satisfy regular expression pattern")
        stream_arn, name, created = match.groups()
        stream_name = call.arn_name(stream_arn)
    else:
        stream_arn = call.required("StreamARN", max_length=2048)
        stream_name, name, created = call.arn_name(stream_arn), _consumer_name(call), None
    resource = f"{call.arn(stream_name)}/consumer/{name}:{created or '*'}"
    call.resources.append(resource)
    held = await call.kinesis.store.get(call.account, stream_name)
    found = None if held is None else next((c for c in held.consumers if c.name == name), None)
    if found is not None and created is not None and int(created) != found.created // 1000:
        found = None  # a stale ARN: the consumer of that name now is another, its policy too
    if found is not None and call.account != call.tenant_id:
        call.shared = call.account
    # The consumer's own policy shares it (decision 0248), not its stream's.
    policy = None if found is None else found.policy
    await call.authorise(f"kinesis:{action}", resource, {}, policy, call.account)
    stream = await call.kinesis.get(call.account, stream_name)
    consumer = await call.kinesis.consumer(call.account, stream_name, name)
    if created is not None and int(created) != consumer.created // 1000:
        raise KinesisWireError(
            "ResourceNotFoundException", f"Consumer {resource[:512]} not found (another consumer "
            "of that name was registered since)."
        )  # fmt: skip
    return stream, consumer


async def register_stream_consumer(call: KinesisCall) -> dict[str, Any]:
    stream_arn = call.required("StreamARN", max_length=2048)
    name = _consumer_name(call)
    if call.params.get("Tags"):
        raise KinesisWireError("InvalidArgumentException", "Tags on stream consumers are not "
                               "offered by this platform (decision 0228).")  # fmt: skip
    stream = await named_stream(call, "RegisterStreamConsumer", None, call.arn_name(stream_arn))
    consumer = await call.kinesis.register_consumer(call.account, stream.name, name)
    return {"Consumer": _described(stream, consumer, with_stream=False)}


async def describe_stream_consumer(call: KinesisCall) -> dict[str, Any]:
    stream, consumer = await named_consumer(call, "DescribeStreamConsumer")
    return {"ConsumerDescription": _described(stream, consumer, with_stream=True)}


async def deregister_stream_consumer(call: KinesisCall) -> dict[str, Any]:
    stream, consumer = await named_consumer(call, "DeregisterStreamConsumer")
    await call.kinesis.deregister_consumer(call.account, stream.name, consumer.name)
    return {}


async def list_stream_consumers(call: KinesisCall) -> dict[str, Any]:
    stream_arn = call.required("StreamARN", max_length=2048)
    limit = call.integer("MaxResults", minimum=1, maximum=10000) or 100
    token = call.string("NextToken", min_length=1, max_length=1048576)
    after = ""
    if token is not None:
        try:
            after = base64.urlsafe_b64decode(token.encode()).decode()
        except (binascii.Error, ValueError, UnicodeError):
            raise KinesisWireError("ExpiredNextTokenException", "Invalid NextToken.") from None
    stream = await named_stream(call, "ListStreamConsumers", None, call.arn_name(stream_arn))
    found = sorted((c for c in stream.consumers if c.name > after), key=lambda c: c.name)
    answer: dict[str, Any] = {
        "Consumers": [_described(stream, c, with_stream=False) for c in found[:limit]]
    }
    if len(found) > limit:
        answer["NextToken"] = base64.urlsafe_b64encode(found[limit - 1].name.encode()).decode()
    return answer


CONSUMER_ACTIONS: Final[dict[str, Handler]] = {
    "DeregisterStreamConsumer": deregister_stream_consumer,
    "DescribeStreamConsumer": describe_stream_consumer,
    "ListStreamConsumers": list_stream_consumers,
    "RegisterStreamConsumer": register_stream_consumer,
}
