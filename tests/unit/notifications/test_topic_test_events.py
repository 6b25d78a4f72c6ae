"""``TopicService.send_test_events`` (decision 0132, increment 4): S3's test message queued once
per topic, in S3's shape, within the tenant's bound; a full queue drops it with a log line."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import pytest

from andromede.notifications.memory import MemoryEventQueue, MemoryTopicStore
from andromede.notifications.service import TopicService

NOW = datetime(2026, 12, 5, 3, 50, 1, 123456, tzinfo=UTC)
A = "arn:aws:sns:eu:t1:a"
B = "arn:aws:sns:eu:t1:b"


def service(outbox: list[tuple[str, str, str, str | None]] | None, bound: int = 10) -> TopicService:
    return TopicService(
        MemoryTopicStore(),
        region="eu",
        max_topics=10,
        clock=lambda: NOW,
        queue=None if outbox is None else MemoryEventQueue(outbox),
        queue_bound=bound,
    )


async def test_one_message_per_topic_in_s3s_shape() -> None:
    outbox: list[tuple[str, str, str, str | None]] = []
    assert await service(outbox).send_test_events("t1", "photos", [A, B, A], "REQ1") == 2
    assert [(tenant, arn) for tenant, arn, _, _ in outbox] == [("t1", A), ("t1", B)]
    assert json.loads(outbox[0][2]) == {
        "Service": "Amazon S3",
        "Event": "s3:TestEvent",
        "Time": "2026-12-05T03:50:01.123Z",
        "Bucket": "photos",
        "RequestId": "REQ1",
        "HostId": "REQ1",
    }


async def test_a_full_queue_drops_the_message_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    outbox: list[tuple[str, str, str, str | None]] = []
    with caplog.at_level(logging.WARNING, logger="andromede.notifications.service"):
        assert await service(outbox, bound=1).send_test_events("t1", "photos", [A, B], "R") == 1
    assert [arn for _, arn, _, _ in outbox] == [A]
    (line,) = [r.getMessage() for r in caplog.records]
    assert "full" in line and B in line and "photos" not in line


async def test_without_a_queue_nothing_is_sent() -> None:
    assert await service(None).send_test_events("t1", "photos", [A], "R") == 0
