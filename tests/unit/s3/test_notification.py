"""Get/PutBucketNotificationConfiguration (decision 0132) in process: the configuration as S3
checks and shows it, and the events each kind of write queues (in the memory store's outbox,
written in the step that commits the write)."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from andromede.db.notification_events import EVENTBRIDGE_DESTINATION
from support.s3app import Client, in_process_client

B = "/watched"


def md5_header(body: bytes) -> dict[str, str]:
    digest = hashlib.md5(body, usedforsecurity=False).digest()
    return {"Content-MD5": base64.b64encode(digest).decode()}


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    async with in_process_client(tmp_path) as made:
        assert (await made.request("PUT", B)).status == 200
        yield made


async def topic(client: Client, name: str = "events") -> str:
    assert client.topics is not None
    made = await client.topics.create_topic(
        client.tenant_id, name, {"push-endpoint": "http://127.0.0.1:9/hook"}
    )
    return made.arn


def configuration(*rules: str) -> bytes:
    return (
        "<NotificationConfiguration>" + "".join(rules) + "</NotificationConfiguration>"
    ).encode()


def topic_rule(
    arn: str,
    *events: str,
    rule_id: str | None = "r1",
    prefix: str | None = None,
    suffix: str | None = None,
) -> str:
    parts = [f"<Id>{rule_id}</Id>" if rule_id else "", f"<Topic>{arn}</Topic>"]
    parts += [f"<Event>{e}</Event>" for e in events]
    filters = [("prefix", prefix), ("suffix", suffix)]
    if prefix is not None or suffix is not None:
        parts.append("<Filter><S3Key>")
        parts += [
            f"<FilterRule><Name>{n}</Name><Value>{v}</Value></FilterRule>"
            for n, v in filters
            if v is not None
        ]
        parts.append("</S3Key></Filter>")
    return "<TopicConfiguration>" + "".join(parts) + "</TopicConfiguration>"


async def put(client: Client, body: bytes) -> Any:
    return await client.request("PUT", f"{B}?notification", body, md5_header(body))


def queued(client: Client) -> list[dict[str, Any]]:
    assert client.store is not None
    return [r for _, _, m, _ in client.store.notification_outbox for r in json.loads(m)["Records"]]


async def test_a_configuration_is_kept_and_shown_back(client: Client) -> None:
    arn = await topic(client)
    body = configuration(
        topic_rule(arn, "s3:ObjectCreated:*", prefix="images/", suffix=".jpg"),
        topic_rule(arn, "s3:ObjectRemoved:Delete", rule_id="gone"),
    )
    assert (await put(client, body)).status == 200
    shown = await client.request("GET", f"{B}?notification")
    assert shown.status == 200
    text = shown.body.decode()
    for expected in (
        "<Id>r1</Id>",
        f"<Topic>{arn}</Topic>",
        "<Event>s3:ObjectCreated:*</Event>",
        "<Name>Prefix</Name><Value>images/</Value>",
        "<Name>Suffix</Name><Value>.jpg</Value>",
        "<Id>gone</Id>",
    ):
        assert expected in text
    # An empty configuration turns notifications off.
    assert (await put(client, configuration())).status == 200
    assert b"TopicConfiguration" not in (await client.request("GET", f"{B}?notification")).body


async def test_a_rule_without_id_gets_one(client: Client) -> None:
    arn = await topic(client)
    assert (
        await put(client, configuration(topic_rule(arn, "s3:ObjectCreated:Put", rule_id=None)))
    ).status == 200
    assert b"<Id>" in (await client.request("GET", f"{B}?notification")).body


@pytest.mark.parametrize(
    ("rules", "code", "message"),
    [
        (
            lambda arn: [topic_rule(arn, "s3:ObjectRestore:*")],
            "InvalidArgument",
            "The event is not supported for notifications",
        ),
        (
            lambda arn: [topic_rule("arn:aws:sns:eu-west-3:t1:missing", "s3:ObjectCreated:*")],
            "InvalidArgument",
            "Unable to validate the following destination configurations",
        ),
        (
            lambda arn: [
                topic_rule(arn, "s3:ObjectCreated:*"),
                topic_rule(arn, "s3:ObjectCreated:Put", rule_id="r2"),
            ],
            "InvalidArgument",
            "Configuration is ambiguously defined",
        ),
        (
            lambda arn: [
                topic_rule(arn, "s3:ObjectCreated:*", prefix="a/", suffix=".jpg"),
                topic_rule(arn, "s3:ObjectCreated:*", rule_id="r2", prefix="a/b", suffix="g"),
            ],
            "InvalidArgument",
            "Configuration is ambiguously defined",
        ),
        (
            lambda arn: [
                topic_rule(arn, "s3:ObjectCreated:*"),
                topic_rule(arn, "s3:ObjectRemoved:*"),
            ],
            "InvalidArgument",
            "Configuration IDs must be unique",
        ),
        (
            lambda arn: [topic_rule(arn)],
            "MalformedXML",
            None,
        ),
        (
            lambda arn: [
                f"<TopicConfiguration><Topic>{arn}</Topic><Event>s3:ObjectCreated:*</Event>"
                "<Filter><S3Key><FilterRule><Name>middle</Name><Value>x</Value></FilterRule>"
                "</S3Key></Filter></TopicConfiguration>"
            ],
            "InvalidArgument",
            "filter rule name must be either prefix or suffix",
        ),
        (
            lambda arn: [
                f"<TopicConfiguration><Topic>{arn}</Topic><Event>s3:ObjectCreated:*</Event>"
                "<Filter><S3Key><FilterRule><Name>prefix</Name><Value>a</Value></FilterRule>"
                "<FilterRule><Name>Prefix</Name><Value>b</Value></FilterRule>"
                "</S3Key></Filter></TopicConfiguration>"
            ],
            "InvalidArgument",
            "Cannot specify more than one prefix rule in a filter.",
        ),
        (
            lambda arn: [
                "<QueueConfiguration><Queue>arn:aws:sqs:eu:1:q</Queue>"
                "<Event>s3:ObjectCreated:*</Event></QueueConfiguration>"
            ],
            # An app built without queues (this one) refuses them as before (decision 0158).
            "NotImplemented",
            "QueueConfiguration",
        ),
        (
            # A topic's rule naming a queue (or the reverse) names no destination of its kind.
            lambda arn: [
                "<TopicConfiguration><Topic>arn:aws:sqs:eu:1:q</Topic>"
                "<Event>s3:ObjectCreated:*</Event></TopicConfiguration>"
            ],
            "InvalidArgument",
            "Unable to validate the following destination configurations",
        ),
        (
            lambda arn: ["<CloudFunctionConfiguration/>"],
            "NotImplemented",
            "CloudFunctionConfiguration",
        ),
        # EventBridge's configuration is an empty element, given once (session 48).
        (
            lambda arn: ["<EventBridgeConfiguration/>", "<EventBridgeConfiguration/>"],
            "MalformedXML",
            None,
        ),
        (
            lambda arn: ["<EventBridgeConfiguration><Id>x</Id></EventBridgeConfiguration>"],
            "MalformedXML",
            None,
        ),
    ],
)
async def test_configurations_s3_refuses_are_refused_and_nothing_kept(
    client: Client, rules: Any, code: str, message: str | None
) -> None:
    arn = await topic(client)
    reply = await put(client, configuration(*rules(arn)))
    assert reply.error_code() == code, reply.body
    assert reply.status == (501 if code == "NotImplemented" else 400)
    if message is not None:
        assert message in reply.body.decode()
    assert b"TopicConfiguration" not in (await client.request("GET", f"{B}?notification")).body


async def test_another_tenants_topic_is_no_destination(client: Client) -> None:
    other = await client.other_tenant("neighbour")
    assert other.topics is not None
    theirs = await other.topics.create_topic(other.tenant_id, "theirs", {})
    reply = await put(client, configuration(topic_rule(theirs.arn, "s3:ObjectCreated:*")))
    assert (reply.status, reply.error_code()) == (400, "InvalidArgument")
    # Nor may the other tenant read or set this bucket's configuration.
    assert (await other.request("GET", f"{B}?notification")).status == 403
    body = configuration(topic_rule(theirs.arn, "s3:ObjectCreated:*"))
    assert (await other.request("PUT", f"{B}?notification", body, md5_header(body))).status == 403


async def test_each_write_queues_its_event(client: Client) -> None:
    arn = await topic(client)
    body = configuration(topic_rule(arn, "s3:ObjectCreated:*", "s3:ObjectRemoved:*"))
    assert (await put(client, body)).status == 200
    assert (await client.request("PUT", f"{B}/a b.txt", b"hello")).status == 200
    copy = await client.request("PUT", f"{B}/copied", b"", {"x-amz-copy-source": f"{B}/a%20b.txt"})
    assert copy.status == 200, copy.body
    assert (await client.request("DELETE", f"{B}/a%20b.txt")).status == 204
    events = queued(client)
    assert [e["eventName"] for e in events] == [
        "ObjectCreated:Put",
        "ObjectCreated:Copy",
        "ObjectRemoved:Delete",
    ]
    put_event = events[0]
    assert put_event["s3"]["object"]["key"] == "a+b.txt"
    assert put_event["s3"]["object"]["size"] == 5
    assert (
        put_event["s3"]["object"]["eTag"]
        == hashlib.md5(b"hello", usedforsecurity=False).hexdigest()
    )
    assert put_event["s3"]["bucket"]["name"] == "watched"
    assert put_event["s3"]["configurationId"] == "r1"
    assert put_event["userIdentity"]["principalId"].endswith(":root")
    assert {e["s3"]["object"]["sequencer"] for e in events} and all(
        e["eventVersion"] == "2.1" for e in events
    )


async def test_multipart_completion_and_delete_markers(client: Client) -> None:
    arn = await topic(client)
    body = configuration(
        topic_rule(
            arn, "s3:ObjectCreated:CompleteMultipartUpload", "s3:ObjectRemoved:DeleteMarkerCreated"
        )
    )
    assert (await put(client, body)).status == 200
    versioning = b"<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>"
    assert (
        await client.request("PUT", f"{B}?versioning", versioning, md5_header(versioning))
    ).status == 200
    created = await client.request("POST", f"{B}/big?uploads")
    upload_id = created.body.decode().split("<UploadId>")[1].split("</UploadId>")[0]
    part = await client.request("PUT", f"{B}/big?partNumber=1&uploadId={upload_id}", b"x" * 10)
    etag = part.headers["etag"]
    done = (
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>"
        f"<ETag>{etag}</ETag></Part></CompleteMultipartUpload>"
    ).encode()
    completed = await client.request("POST", f"{B}/big?uploadId={upload_id}", done)
    assert completed.status == 200, completed.body
    assert (await client.request("PUT", f"{B}/plain", b"not selected")).status == 200
    deleted = await client.request("DELETE", f"{B}/big")
    assert deleted.status == 204
    events = queued(client)
    assert [e["eventName"] for e in events] == [
        "ObjectCreated:CompleteMultipartUpload",
        "ObjectRemoved:DeleteMarkerCreated",
    ]
    assert events[0]["s3"]["object"]["versionId"] == completed.headers["x-amz-version-id"]
    assert events[0]["s3"]["object"]["eTag"].endswith("-1")
    assert events[1]["s3"]["object"]["versionId"] == deleted.headers["x-amz-version-id"]


async def test_a_bucket_without_a_configuration_queues_nothing(client: Client) -> None:
    await topic(client)
    assert (await client.request("PUT", f"{B}/k", b"data")).status == 200
    assert (await client.request("DELETE", f"{B}/k")).status == 204
    assert queued(client) == []


async def test_delete_objects_queues_each_removal(client: Client) -> None:
    arn = await topic(client)
    assert (await put(client, configuration(topic_rule(arn, "s3:ObjectRemoved:*")))).status == 200
    for key in ("one", "two"):
        assert (await client.request("PUT", f"{B}/{key}", b"x")).status == 200
    body = (
        b"<Delete><Object><Key>one</Key></Object><Object><Key>two</Key></Object>"
        b"<Object><Key>never-there</Key></Object></Delete>"
    )
    reply = await client.request("POST", f"{B}?delete", body, md5_header(body))
    assert reply.status == 200, reply.body
    events = queued(client)
    assert [(e["eventName"], e["s3"]["object"]["key"]) for e in events] == [
        ("ObjectRemoved:Delete", "one"),
        ("ObjectRemoved:Delete", "two"),
    ]


async def test_a_version_deleted_for_good_is_an_object_removed_delete(client: Client) -> None:
    arn = await topic(client)
    assert (
        await put(client, configuration(topic_rule(arn, "s3:ObjectRemoved:Delete")))
    ).status == 200
    versioning = b"<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>"
    assert (
        await client.request("PUT", f"{B}?versioning", versioning, md5_header(versioning))
    ).status == 200
    written = await client.request("PUT", f"{B}/k", b"v1")
    version = written.headers["x-amz-version-id"]
    assert (await client.request("DELETE", f"{B}/k?versionId={version}")).status == 204
    (event,) = queued(client)
    assert event["eventName"] == "ObjectRemoved:Delete"
    assert event["s3"]["object"]["versionId"] == version


async def test_eventbridge_beside_a_topic_takes_every_event_of_the_bucket(client: Client) -> None:
    """Decision 0192's session 48 addendum: ``EventBridgeConfiguration`` kept beside a topic
    rule it overlaps (outside S3's overlap check), shown back, and every event of the bucket
    queued for the owner's default bus too, filters or not; no test event for the bus."""
    arn = await topic(client)
    body = configuration(
        topic_rule(arn, "s3:ObjectCreated:*", prefix="images/"), "<EventBridgeConfiguration/>"
    )
    assert (await put(client, body)).status == 200
    shown = (await client.request("GET", f"{B}?notification")).body.decode()
    assert shown.index("</TopicConfiguration>") < shown.index("<EventBridgeConfiguration")
    assert shown.count("<TopicConfiguration>") == 1
    assert client.store is not None
    outbox = client.store.notification_outbox
    assert EVENTBRIDGE_DESTINATION not in {destination for _, destination, _, _ in outbox}
    outbox.clear()
    for key in ("images/a.jpg", "notes/b.txt"):
        assert (await client.request("PUT", f"{B}/{key}", b"abc")).status == 200
    assert (await client.request("DELETE", f"{B}/notes/b.txt")).status == 204
    to_bus = [json.loads(m)["Records"][0] for _, d, m, _ in outbox if d == EVENTBRIDGE_DESTINATION]
    assert [(r["eventName"], r["s3"]["object"]["key"]) for r in to_bus] == [
        ("ObjectCreated:Put", "images/a.jpg"),
        ("ObjectCreated:Put", "notes/b.txt"),
        ("ObjectRemoved:Delete", "notes/b.txt"),
    ]
    assert [d for _, d, _, _ in outbox].count(arn) == 1  # the topic's filter still applies
    # Without it, the bus gets nothing more.
    assert (await put(client, configuration(topic_rule(arn, "s3:ObjectCreated:*")))).status == 200
    shown = (await client.request("GET", f"{B}?notification")).body
    assert b"EventBridgeConfiguration" not in shown
