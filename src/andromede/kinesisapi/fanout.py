"""Enhanced fan-out's subscriptions (decision 0242): the gateway's register of the
subscriptions open on it, and the event stream one answers with.

**One subscription per consumer and shard**, as AWS allows: a second SubscribeToShard for a
consumer and shard that one is reading is ``ResourceInUseException``, and a consumer may
subscribe to a shard at most once a second (``LimitExceededException``, counted as
``SubscribeToShard.RateExceeded``). The register is this gateway's: two gateways behind a
load balancer do not see each other's subscriptions, so a consumer could hold one on each.

**The stream**: ``initial-response``, then ``SubscribeToShardEvent`` events. The shard is read
a page at a time (``GetRecords``' own path, records opened under the stream's key as the
caller); a page holding records is sent at once, and read on without waiting while the
consumer is behind; once it has read to the tip the subscription looks again every
``kinesis_subscription_poll_interval``, and sends an empty event at least every
:data:`HEARTBEAT` seconds so the consumer's checkpoint (``ContinuationSequenceNumber``) moves.
A closed shard read to its end sends its ``ChildShards`` and ends the stream; so does the
``kinesis_subscription_lifetime`` (AWS: 5 minutes), or the client going. A fault during the
stream is the model's exception event: ``ResourceNotFoundException`` when the stream or the
consumer is gone, the ``KMS*`` exceptions of the stream's key, ``InternalFailureException``
for anything else (logged, its text not sent).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import time
import weakref
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Final

from andromede.awswire.eventstream import CONTENT_TYPE, json_event, json_exception
from andromede.http.response import Receive, Response
from andromede.kinesis.errors import ExpiredIterator, InvalidArgument, KmsRefused, StreamNotFound
from andromede.kinesis.model import Consumer, Shard, Stream, sequence_text
from andromede.kinesis.service import KinesisService, RecordsRead
from andromede.kinesisapi.errors import KinesisWireError
from andromede.wakeup import set_within

__all__ = [
    "HEARTBEAT",
    "Subscription",
    "SubscriptionLimits",
    "Subscriptions",
    "subscription_answer",
]

log = logging.getLogger(__name__)

HEARTBEAT: Final = 5.0  # seconds between events at most, as AWS's
_PAGE: Final = 10_000  # records a page, at most (GetRecords' largest Limit)
_RATE: Final = 1.0  # seconds between two subscriptions of a consumer to a shard (AWS's)
_KMS_EXCEPTIONS: Final = frozenset({
    "KMSDisabledException", "KMSInvalidStateException", "KMSAccessDeniedException",
    "KMSNotFoundException", "KMSOptInRequired", "KMSThrottlingException",
})  # fmt: skip

SlotKey = tuple[str, str, str]  # the account, the consumer's ARN, the shard's id


@dataclass(frozen=True, slots=True)
class SubscriptionLimits:
    lifetime: float = 300.0
    poll_interval: float = 0.2


class Subscriptions:
    """The subscriptions open on this gateway, by account, consumer ARN and shard."""

    def __init__(
        self, limits: SubscriptionLimits, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limits = limits
        self._clock = clock
        self._open: set[SlotKey] = set()
        self._last: dict[SlotKey, float] = {}

    def claim(self, key: SlotKey) -> None:
        """The slot taken, or AWS's refusal of a second subscription or of one too soon."""
        if key in self._open:
            raise KinesisWireError(
                "ResourceInUseException",
                f"Another active subscription exists for consumer {key[1][:512]} on shard "
                f"{key[2][:128]}.",
            )
        now = self._clock()
        last = self._last.get(key)
        if last is not None and now - last < _RATE:
            raise KinesisWireError(
                "LimitExceededException",
                f"Rate exceeded for consumer {key[1][:512]} and shard {key[2][:128]}: "
                "SubscribeToShard is allowed once a second.",
            )
        # Entries older than the rate's second no longer refuse anything.
        self._last = {k: t for k, t in self._last.items() if now - t < _RATE}
        self._last[key] = now
        self._open.add(key)

    def release(self, key: SlotKey) -> None:
        self._open.discard(key)

    def __len__(self) -> int:
        return len(self._open)


@dataclass(slots=True)
class Subscription:
    """An accepted SubscribeToShard: where it reads from, as whom, and its slot."""

    key: SlotKey
    tenant_id: str
    stream: Stream
    consumer: Consumer
    shard: Shard
    iterator: str
    kinesis: KinesisService
    slots: Subscriptions
    caller: object = None
    released: bool = False

    def release(self) -> None:
        if not self.released:
            self.released = True
            self.slots.release(self.key)


def subscription_answer(subscription: Subscription, receive: Receive) -> Response:
    """The event stream of an accepted subscription; its slot freed when the stream ends,
    or when it is collected if it never started (the client gone before the status line)."""
    stream = _stream(subscription, receive)
    weakref.finalize(stream, subscription.release)
    return Response(status=200, headers=[("Content-Type", CONTENT_TYPE)], stream=stream)


def _event(read: RecordsRead) -> dict[str, Any]:
    event: dict[str, Any] = {
        "Records": [
            {
                "SequenceNumber": sequence_text(r.sequence),
                "ApproximateArrivalTimestamp": round(r.arrived / 1000, 3),
                "Data": base64.b64encode(r.data).decode("ascii"),
                "PartitionKey": r.partition_key,
                "EncryptionType": read.stream.encryption_type,
            }
            for r in read.records
        ],
        "ContinuationSequenceNumber": sequence_text(read.position - 1),
        "MillisBehindLatest": read.millis_behind,
    }
    if read.next_iterator is None:
        event["ChildShards"] = [
            {
                "ShardId": child.id,
                "ParentShards": [
                    Shard(i, 0, 0, 0).id
                    for i in (child.parent, child.adjacent_parent)
                    if i is not None
                ],
                # streams.described_shard's shape; not imported: streams -> params -> here.
                "HashKeyRange": {
                    "StartingHashKey": str(child.start_hash),
                    "EndingHashKey": str(child.end_hash),
                },
            }
            for child in read.children
        ]
    return event


def _registered(stream: Stream, consumer: Consumer) -> bool:
    return consumer in stream.consumers


async def _watch(receive: Receive, gone: asyncio.Event) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    gone.set()


async def _stream(subscription: Subscription, receive: Receive) -> AsyncIterator[bytes]:
    limits = subscription.slots.limits
    gone = asyncio.Event()
    watcher = asyncio.ensure_future(_watch(receive, gone))
    deadline = time.monotonic() + limits.lifetime
    try:
        yield json_event("initial-response", {})
        async for event in _events(subscription, gone, deadline):
            yield event
    finally:
        subscription.release()
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher


async def _events(
    subscription: Subscription, gone: asyncio.Event, deadline: float
) -> AsyncIterator[bytes]:
    limits = subscription.slots.limits
    kinesis = subscription.kinesis
    iterator: str | None = subscription.iterator
    last_sent: float | None = None
    position = subscription.shard.starting  # refined by each read
    where = f"consumer {subscription.key[1]} on shard {subscription.shard.id}"
    while not gone.is_set():
        try:
            if iterator is None:  # the last one expired: the same place, a fresh iterator
                iterator = await kinesis.iterator(
                    subscription.tenant_id, subscription.stream.name, subscription.shard.id,
                    "AFTER_SEQUENCE_NUMBER", sequence_text(position - 1),
                )  # fmt: skip
            read = await kinesis.records(
                subscription.tenant_id, iterator, _PAGE, subscription.caller,
                "SubscribeToShardEvent",
            )  # fmt: skip
        except KmsRefused as exc:
            code = exc.code if exc.code in _KMS_EXCEPTIONS else "InternalFailureException"
            yield json_exception(code, str(exc))
            return
        except ExpiredIterator:
            # Only when iterators live shorter than the pause between reads (the settings).
            iterator = None
            continue
        except (StreamNotFound, InvalidArgument):
            # The stream deleted (its iterators refused), or another made under its name.
            yield json_exception(
                "ResourceNotFoundException",
                f"Stream {subscription.stream.arn} was deleted while {where} was reading it.",
            )
            return
        except Exception:
            log.exception("Kinesis subscription of %s failed", where)
            yield json_exception("InternalFailureException", "Internal service failure.")
            return
        if not _registered(read.stream, subscription.consumer):
            yield json_exception(
                "ResourceNotFoundException", f"The consumer of {where} was deregistered."
            )
            return
        now = time.monotonic()
        ended = read.next_iterator is None
        if read.records or ended or last_sent is None or now - last_sent >= HEARTBEAT:
            yield json_event("SubscribeToShardEvent", _event(read))
            last_sent = now
        if read.next_iterator is None or now >= deadline:
            return
        iterator, position = read.next_iterator, read.position
        if read.records and read.millis_behind > 0:
            continue  # behind the tip: the next page at once
        await set_within(gone, min(limits.poll_interval, max(deadline - now, 0.0)))
