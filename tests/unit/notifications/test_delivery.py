"""The delivery worker (decision 0132) against a real HTTP receiver on the loopback: an event
POSTed as S3's JSON with the topic's OpaqueData, retried with backoff while the receiver is
down and delivered once it is up, given up after its attempts; the address guard refusing an
internal endpoint the operator did not allow; no endpoint path or query in the logs."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from andromede.notifications.delivery import Deliverer, DeliveryPolicy
from andromede.notifications.memory import MemoryEventQueue, MemoryTopicStore
from andromede.notifications.service import TopicService

NOW = datetime(2026, 12, 5, 9, tzinfo=UTC)
LOOPBACK = (ipaddress.ip_network("127.0.0.1/32"),)
MESSAGE = json.dumps({"Records": [{"eventName": "ObjectCreated:Put", "s3": {}}]})


@dataclass
class Receiver:
    """A minimal HTTP/1.1 server: records each request's head and body, answers ``status``."""

    status: int = 200
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    server: asyncio.Server | None = None
    port: int = 0

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        headers = {
            name.lower(): value.strip()
            for name, _, value in (line.partition(":") for line in lines[1:] if line)
        }
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        self.requests.append((lines[0], headers, body))
        writer.write(f"HTTP/1.1 {self.status} X\r\nContent-Length: 0\r\n\r\n".encode())
        await writer.drain()
        writer.close()

    async def start(self, port: int = 0) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    made = Receiver()
    await made.start()
    yield made
    await made.stop()


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


async def setup(
    endpoint: str, *, allowed: tuple[ipaddress.IPv4Network, ...] = LOOPBACK, attempts: int = 3
) -> tuple[Deliverer, MemoryEventQueue, list[tuple[str, str, str]], Clock, str]:
    topics = TopicService(MemoryTopicStore(), region="eu", max_topics=10)
    topic = await topics.create_topic(
        "t1", "events", {"push-endpoint": endpoint, "OpaqueData": "ref-42"}
    )
    outbox: list[tuple[str, str, str, str | None]] = [("t1", topic.arn, MESSAGE, None)]
    queue = MemoryEventQueue(outbox)
    clock = Clock()
    policy = DeliveryPolicy(
        max_attempts=attempts, retry_base=2.0, timeout=2.0, allowed=allowed, batch=10
    )
    return Deliverer(queue, topics, policy, clock=clock), queue, outbox, clock, topic.arn


async def test_an_event_is_posted_with_the_topics_opaque_data(receiver: Receiver) -> None:
    deliverer, queue, _, _, _ = await setup(f"http://127.0.0.1:{receiver.port}/hook?x=1")
    assert await deliverer.deliver_once() == 1
    ((line, headers, body),) = receiver.requests
    assert line == "POST /hook?x=1 HTTP/1.1"
    assert headers["content-type"] == "application/json"
    assert headers["host"] == f"127.0.0.1:{receiver.port}"
    (record,) = json.loads(body)["Records"]
    assert record["eventName"] == "ObjectCreated:Put"
    assert record["opaqueData"] == "ref-42"
    assert await queue.waiting("t1") == 0
    assert deliverer.delivered == 1


async def test_an_internal_endpoint_not_allowed_is_refused(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    endpoint = f"http://127.0.0.1:{receiver.port}/hook?token=s3cret"
    deliverer, queue, _, _, _ = await setup(endpoint, allowed=())
    with caplog.at_level(logging.INFO):
        assert await deliverer.deliver_once() == 1
    assert receiver.requests == []
    assert await queue.waiting("t1") == 0 and deliverer.dropped == 1
    assert "s3cret" not in caplog.text and "/hook" not in caplog.text
    assert "notification_endpoint_allow_cidrs" in caplog.text


async def test_a_receiver_down_then_up_gets_the_event_after_backoff(
    caplog: pytest.LogCaptureFixture,
) -> None:
    receiver = Receiver()
    await receiver.start()
    port = receiver.port
    await receiver.stop()  # down: the port refuses connections
    deliverer, queue, _, clock, _ = await setup(f"http://127.0.0.1:{port}/hook?token=s3cret")
    with caplog.at_level(logging.INFO):
        assert await deliverer.deliver_once() == 1
    assert await queue.waiting("t1") == 1
    assert "s3cret" not in caplog.text
    # Not before its backoff (2 s after the first attempt)...
    clock.now = NOW + timedelta(seconds=1)
    assert await deliverer.deliver_once() == 0
    await receiver.start(port)
    try:
        clock.now = NOW + timedelta(seconds=2)
        assert await deliverer.deliver_once() == 1
    finally:
        await receiver.stop()
    assert len(receiver.requests) == 1
    assert await queue.waiting("t1") == 0


async def test_an_event_refused_every_time_is_given_up(receiver: Receiver) -> None:
    receiver.status = 503
    deliverer, queue, _, clock, _ = await setup(
        f"http://127.0.0.1:{receiver.port}/hook", attempts=2
    )
    assert await deliverer.deliver_once() == 1
    clock.now = NOW + timedelta(seconds=2)
    assert await deliverer.deliver_once() == 1
    assert len(receiver.requests) == 2
    assert await queue.waiting("t1") == 0 and deliverer.dropped == 1


async def test_an_event_of_a_deleted_topic_is_dropped(receiver: Receiver) -> None:
    topics = TopicService(MemoryTopicStore(), region="eu", max_topics=10)
    outbox = [("t1", "arn:aws:sns:eu:t1:gone", MESSAGE, None)]
    queue = MemoryEventQueue(outbox)
    deliverer = Deliverer(queue, topics, DeliveryPolicy(allowed=LOOPBACK))
    assert await deliverer.deliver_once() == 1
    assert await queue.waiting("t1") == 0 and receiver.requests == []


async def test_a_silent_endpoint_does_not_hold_the_others(receiver: Receiver) -> None:
    done = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await done.wait()  # reads nothing, answers nothing
        writer.close()

    hanging = await asyncio.start_server(silent, "127.0.0.1", 0)
    try:
        port = hanging.sockets[0].getsockname()[1]
        topics = TopicService(MemoryTopicStore(), region="eu", max_topics=10)
        slow = await topics.create_topic(
            "t1", "slow", {"push-endpoint": f"http://127.0.0.1:{port}/"}
        )
        fast = await topics.create_topic(
            "t2", "fast", {"push-endpoint": f"http://127.0.0.1:{receiver.port}/"}
        )
        outbox = [("t1", slow.arn, MESSAGE, None)] * 5 + [("t2", fast.arn, MESSAGE, None)]
        queue = MemoryEventQueue(outbox)
        policy = DeliveryPolicy(timeout=0.5, allowed=LOOPBACK, batch=10)
        deliverer = Deliverer(queue, topics, policy, clock=Clock())
        started = asyncio.get_running_loop().time()
        assert await deliverer.deliver_once() == 6
        assert asyncio.get_running_loop().time() - started < 2.0
        assert len(receiver.requests) == 1
        assert await queue.waiting("t1") == 5 and await queue.waiting("t2") == 0
    finally:
        done.set()
        hanging.close()
        await hanging.wait_closed()


async def test_a_deliverer_given_no_context_loads_no_certificates_per_pass(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Decision 0325: httpx's ``verify=True`` loaded certifi's bundle for each pass's client;
    # a deliverer given no context uses the process's shared one, made once.
    from andromede.http import outbound

    loads: list[object] = []
    real = ssl.SSLContext.load_verify_locations

    def counting(self: ssl.SSLContext, *args: object, **kwargs: object) -> None:
        loads.append(args)
        real(self, *args, **kwargs)  # type: ignore[arg-type]

    outbound.system_tls_context()  # made already, as in any process that delivered before
    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", counting)
    for _ in range(3):
        deliverer, _, _, _, _ = await setup(f"http://127.0.0.1:{receiver.port}/hook")
        assert await deliverer.deliver_once() == 1
    assert len(receiver.requests) == 3
    assert loads == []
