"""S3's ``s3:TestEvent`` (decision 0132, increment 4) in process: a configuration accepted by
PutBucketNotificationConfiguration queues, for each topic it names (once however many rules
name it), S3's test message with the request's id; a refused or empty configuration queues
none. The messages are taken from the memory event queue as the worker claims them."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from support.s3app import Client, in_process_client

B = "/watched"


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    async with in_process_client(tmp_path) as made:
        assert (await made.request("PUT", B)).status == 200
        yield made


async def topic(client: Client, name: str) -> str:
    assert client.topics is not None
    made = await client.topics.create_topic(
        client.tenant_id, name, {"push-endpoint": "http://127.0.0.1:9/hook"}
    )
    return made.arn


def rule(rule_id: str, arn: str, event: str) -> str:
    return (
        f"<TopicConfiguration><Id>{rule_id}</Id><Topic>{arn}</Topic><Event>{event}</Event>"
        "</TopicConfiguration>"
    )


async def put(client: Client, *rules: str) -> Any:
    body = (
        "<NotificationConfiguration>" + "".join(rules) + "</NotificationConfiguration>"
    ).encode()
    md5 = base64.b64encode(hashlib.md5(body, usedforsecurity=False).digest()).decode()
    return await client.request("PUT", f"{B}?notification", body, {"Content-MD5": md5})


async def claimed(client: Client) -> list[tuple[str, str, dict[str, Any]]]:
    assert client.event_queue is not None
    events = await client.event_queue.claim(
        datetime.now(UTC) + timedelta(seconds=1), lease=timedelta(seconds=60), limit=50
    )
    return [(e.tenant_id, e.topic_arn, json.loads(e.message)) for e in events]


async def test_each_topic_of_an_accepted_configuration_gets_s3s_test_event(
    client: Client,
) -> None:
    first, second = await topic(client, "first"), await topic(client, "second")
    before = datetime.now(UTC)
    reply = await put(
        client,
        rule("created", first, "s3:ObjectCreated:*"),
        rule("removed", first, "s3:ObjectRemoved:*"),
        rule("tagged", second, "s3:ObjectTagging:*"),
    )
    assert reply.status == 200, reply.body
    events = await claimed(client)
    assert sorted((tenant, arn) for tenant, arn, _ in events) == sorted(
        [(client.tenant_id, first), (client.tenant_id, second)]
    )
    for _, _, message in events:
        assert list(message) == ["Service", "Event", "Time", "Bucket", "RequestId", "HostId"]
        assert message["Service"] == "Amazon S3"
        assert message["Event"] == "s3:TestEvent"
        assert message["Bucket"] == "watched"
        assert message["RequestId"] == reply.headers["x-amz-request-id"]
        assert message["HostId"] == reply.headers["x-amz-id-2"]
        sent = datetime.strptime(message["Time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        assert before - timedelta(seconds=1) <= sent <= datetime.now(UTC)
    assert client.store is not None and client.store.notification_outbox == []


async def test_a_configuration_put_again_is_tested_again(client: Client) -> None:
    arn = await topic(client, "events")
    assert (await put(client, rule("r", arn, "s3:ObjectCreated:*"))).status == 200
    assert (await put(client, rule("r", arn, "s3:ObjectCreated:*"))).status == 200
    assert [arn, arn] == [queued for _, queued, _ in await claimed(client)]


async def test_a_refused_or_empty_configuration_queues_no_test_event(client: Client) -> None:
    arn = await topic(client, "events")
    refused = await put(client, rule("r", arn, "s3:ObjectRestore:*"))
    assert refused.status == 400 and refused.error_code() == "InvalidArgument"
    other = await client.other_tenant("other")
    assert client.topics is not None
    foreign = (await client.topics.create_topic(other.tenant_id, "theirs", {})).arn
    unvalidated = await put(client, rule("r", foreign, "s3:ObjectCreated:*"))
    assert unvalidated.status == 400 and unvalidated.error_code() == "InvalidArgument"
    assert (await put(client)).status == 200
    assert await claimed(client) == []
