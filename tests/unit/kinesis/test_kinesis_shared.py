"""Decision 0248 in the Kinesis core: a shard iterator names its stream's owner (an iterator
of before, naming none, is its reader's); the service keeps a stream's and each consumer's
resource policy, gone with the consumer, applied over a write that came first; a shard's
reads bound by calls and bytes a second."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import struct
from collections.abc import Sequence

import pytest

from andromede.kinesis.errors import InvalidArgument, StreamNotFound
from andromede.kinesis.iterators import (
    IteratorPosition,
    iterator_stream,
    open_iterator,
    seal_iterator,
)
from andromede.kinesis.memory import MemoryKinesisStore
from andromede.kinesis.model import NewRecord, StoredRecord, Stream, StreamMode
from andromede.kinesis.service import KinesisService
from andromede.kinesis.throughput import ShardReadThrottle

KEY = b"k" * 32


def test_an_iterator_names_its_owner_and_opens_under_it_only() -> None:
    where = IteratorPosition("s", 1, 7, 1000)
    token = seal_iterator(KEY, "111111111111", where)
    assert iterator_stream(token) == ("111111111111", "s")
    assert open_iterator(KEY, "111111111111", token, 2000, 300_000) == where
    with pytest.raises(InvalidArgument):
        open_iterator(KEY, "222222222222", token, 2000, 300_000)
    # Another owner written in: the MAC no longer holds.
    raw = base64.b64decode(token)
    forged = base64.b64encode(raw.replace(b"111111111111", b"222222222222")).decode()
    assert iterator_stream(forged) == ("222222222222", "s")
    with pytest.raises(InvalidArgument):
        open_iterator(KEY, "222222222222", forged, 2000, 300_000)


def test_an_iterator_of_before_names_no_owner_and_is_its_readers() -> None:
    body = b"\x01" + struct.pack(">QQI", 1000, 7, 1) + b"\x01s"
    mac = hmac.new(KEY, b"111111111111\n" + body, hashlib.sha256).digest()
    token = base64.b64encode(body + mac).decode()
    assert iterator_stream(token) == (None, "s")
    assert open_iterator(KEY, "111111111111", token, 2000, 300_000).position == 7
    with pytest.raises(InvalidArgument):
        open_iterator(KEY, "222222222222", token, 2000, 300_000)


class _Plain:
    async def check(self, stream: Stream, key_id: str, caller: object) -> None:
        pass

    async def seal(
        self, stream: Stream, records: Sequence[NewRecord], caller: object
    ) -> list[bytes]:
        return [r.data for r in records]

    async def open(
        self, stream: Stream, records: Sequence[StoredRecord], caller: object
    ) -> list[bytes]:
        return [r.sealed for r in records]


async def test_the_service_keeps_stream_and_consumer_policies() -> None:
    kinesis = KinesisService(MemoryKinesisStore(), _Plain(), "eu-fr-1")
    await kinesis.create("t", "s", 1, StreamMode.PROVISIONED)
    await kinesis.register_consumer("t", "s", "a")
    await kinesis.register_consumer("t", "s", "b")
    changed = await kinesis.set_policy("t", "s", None, "stream")
    assert changed.policy == "stream" and (await kinesis.get("t", "s")).policy == "stream"
    await kinesis.set_policy("t", "s", "b", "consumer")
    held = await kinesis.get("t", "s")
    assert [(c.name, c.policy) for c in held.consumers] == [("a", None), ("b", "consumer")]
    assert held.policy == "stream"
    with pytest.raises(StreamNotFound):
        await kinesis.set_policy("t", "s", "nope", "x")
    with pytest.raises(StreamNotFound):
        await kinesis.set_policy("t", "gone", None, "x")
    await kinesis.deregister_consumer("t", "s", "b")
    await kinesis.register_consumer("t", "s", "b")
    assert (await kinesis.consumer("t", "s", "b")).policy is None
    await kinesis.set_policy("t", "s", None, None)
    assert (await kinesis.get("t", "s")).policy is None


class _Racing(MemoryKinesisStore):
    """A store where another request writes the stream just before the first replace."""

    def __init__(self) -> None:
        super().__init__()
        self.raced = False

    async def replace(self, stream: Stream) -> bool:
        if not self.raced:
            self.raced = True
            held = await self.get(stream.tenant_id, stream.name)
            assert held is not None
            other = dataclasses.replace(held, tags=(("by", "other"),), revision=held.revision + 1)
            assert await super().replace(other)
        return await super().replace(stream)


async def test_a_policy_put_while_another_write_lands_is_applied_over_it() -> None:
    store = _Racing()
    kinesis = KinesisService(store, _Plain(), "eu-fr-1")
    await kinesis.create("t", "s", 1, StreamMode.PROVISIONED)
    await kinesis.set_policy("t", "s", None, "stream")
    held = await kinesis.get("t", "s")
    assert held.policy == "stream" and held.tags == (("by", "other"),)


def test_reads_are_bound_by_calls_and_bytes_a_second() -> None:
    now = [100.0]
    throttle = ShardReadThrottle(2, 1000, clock=lambda: now[0])
    assert throttle.admit("t", "s", 0) and throttle.admit("t", "s", 0)
    assert not throttle.admit("t", "s", 0)  # a third call in the second
    assert throttle.admit("t", "s", 1)  # another shard has its own
    now[0] = 101.0
    assert throttle.admit("t", "s", 0)
    throttle.spend("t", "s", 0, 3000)  # three seconds' worth in one read: served
    assert not throttle.admit("t", "s", 0)
    now[0] = 103.0
    assert not throttle.admit("t", "s", 0)  # still paying back: 1000 - 3000 + 2 x 1000
    now[0] = 104.5
    assert throttle.admit("t", "s", 0)
