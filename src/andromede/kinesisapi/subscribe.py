"""SubscribeToShard (decision 0242): its parameters checked as AWS's, authorised as
``kinesis:SubscribeToShard`` on the consumer's ARN, the starting position turned into a shard
iterator as GetShardIterator's, the consumer's slot on the shard claimed in the gateway's
register (:class:`~andromede.kinesisapi.fanout.Subscriptions`); the app then answers with the
subscription's event stream (:func:`~andromede.kinesisapi.fanout.subscription_answer`)."""

from __future__ import annotations

from typing import Any, Final

from andromede.kinesisapi.consumers import named_consumer
from andromede.kinesisapi.errors import KinesisWireError
from andromede.kinesisapi.fanout import Subscription
from andromede.kinesisapi.params import Handler, KinesisCall, invalid

__all__ = ["SUBSCRIBE_ACTIONS"]

_STARTING_TYPES: Final = ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER", "TRIM_HORIZON",
                          "LATEST", "AT_TIMESTAMP")  # fmt: skip


async def subscribe_to_shard(call: KinesisCall) -> dict[str, Any]:
    if call.subscriptions is None:
        raise KinesisWireError("InvalidArgumentException", "SubscribeToShard is not served by "
                               "this deployment (decision 0242).")  # fmt: skip
    call.required("ConsumerARN", max_length=2048)
    shard_id = call.required("ShardId", max_length=128)
    starting = call.mapping("StartingPosition")
    if starting is None:
        raise invalid("StartingPosition", "Member must not be null")
    kind = call.string("Type", required=True, source=starting)
    if kind not in _STARTING_TYPES:
        raise invalid("StartingPosition.type", "Member must satisfy enum value set: ["
                      + ", ".join(_STARTING_TYPES) + "]")  # fmt: skip
    sequence = call.string("SequenceNumber", max_length=128, source=starting)
    timestamp = call.timestamp("Timestamp", source=starting)
    call.boolean("DryRun")
    stream, consumer = await named_consumer(call, "SubscribeToShard")
    if call.params.get("DryRun") is True:
        raise KinesisWireError("InvalidArgumentException", "DryRun is not offered by this "
                               "platform (decision 0228).")  # fmt: skip
    if kind in ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER") and sequence is None:
        raise KinesisWireError(
            "InvalidArgumentException", f"StartingPosition.SequenceNumber is required for {kind}."
        )
    iterator = await call.kinesis.iterator(
        call.account, stream.name, shard_id, kind, sequence, timestamp
    )
    shard = stream.shard(shard_id)
    assert shard is not None  # noqa: S101 (the iterator found it)
    key = (call.account, consumer.arn(stream.arn), shard.id)
    try:
        call.subscriptions.claim(key)
    except KinesisWireError as exc:
        if exc.error_type == "LimitExceededException":
            call.kinesis.observer.rate_exceeded(stream, "SubscribeToShard")
        raise
    call.subscription = Subscription(
        key=key, tenant_id=call.account, stream=stream, consumer=consumer, shard=shard,
        iterator=iterator, kinesis=call.kinesis, slots=call.subscriptions,
        caller=call.kms_caller,
    )  # fmt: skip
    return {}


SUBSCRIBE_ACTIONS: Final[dict[str, Handler]] = {"SubscribeToShard": subscribe_to_shard}
