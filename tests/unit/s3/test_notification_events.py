"""The events of decision 0132's second increment, in process: ``ObjectTagging:Put``/``Delete``,
``ObjectAcl:Put`` and the lifecycle's ``LifecycleExpiration:Delete``/``DeleteMarkerCreated``,
each queued (in the memory store's outbox) in the step that commits its change, none for a
change that does not land; and the configuration's new event names."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from support.s3app import Client, in_process_client
from unit.s3.test_lifecycle import Clock, runner
from unit.s3.test_notification import B, configuration, md5_header, put, queued, topic, topic_rule

TAGS = b"<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag></TagSet></Tagging>"
VERSIONING = b"<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>"


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    async with in_process_client(tmp_path) as made:
        assert (await made.request("PUT", B)).status == 200
        yield made


async def watch(client: Client, *events: str, prefix: str | None = None) -> None:
    arn = await topic(client)
    reply = await put(client, configuration(topic_rule(arn, *events, prefix=prefix)))
    assert reply.status == 200, reply.body


async def version(client: Client) -> None:
    reply = await client.request("PUT", f"{B}?versioning", VERSIONING, md5_header(VERSIONING))
    assert reply.status == 200


async def expire(client: Client, rule: str) -> None:
    """``rule``'s elements as the bucket's one lifecycle rule."""
    body = (
        f"<LifecycleConfiguration><Rule><ID>r</ID>{rule}<Status>Enabled</Status></Rule>"
        "</LifecycleConfiguration>"
    ).encode()
    reply = await client.request("PUT", f"{B}?lifecycle", body, md5_header(body))
    assert reply.status == 200, reply.body


async def allow_acls(client: Client) -> None:
    """Object Ownership ``ObjectWriter`` and Block Public Access off: buckets are made with
    ACLs disabled, as on S3."""
    for query, body in (
        (
            "ownershipControls",
            b"<OwnershipControls><Rule><ObjectOwnership>ObjectWriter</ObjectOwnership></Rule>"
            b"</OwnershipControls>",
        ),
        (
            "publicAccessBlock",
            b"<PublicAccessBlockConfiguration><BlockPublicAcls>false</BlockPublicAcls>"
            b"<IgnorePublicAcls>false</IgnorePublicAcls><BlockPublicPolicy>false"
            b"</BlockPublicPolicy><RestrictPublicBuckets>false</RestrictPublicBuckets>"
            b"</PublicAccessBlockConfiguration>",
        ),
    ):
        reply = await client.request("PUT", f"{B}?{query}", body, md5_header(body))
        assert reply.status == 200, reply.body


async def share(client: Client, key: str, query: str = "") -> Any:
    """PutObjectAcl with a canned ACL other than the owner's private one."""
    return await client.request(
        "PUT", f"{B}/{key}?acl{query}", b"", {"x-amz-acl": "authenticated-read"}
    )


async def tag(client: Client, key: str, query: str = "") -> Any:
    return await client.request("PUT", f"{B}/{key}?tagging{query}", TAGS, md5_header(TAGS))


@pytest.mark.parametrize(
    "event",
    [
        "s3:ObjectTagging:*",
        "s3:ObjectTagging:Put",
        "s3:ObjectTagging:Delete",
        "s3:ObjectAcl:Put",
        "s3:LifecycleExpiration:*",
        "s3:LifecycleExpiration:Delete",
        "s3:LifecycleExpiration:DeleteMarkerCreated",
    ],
)
async def test_the_new_event_types_are_accepted_and_shown_back(client: Client, event: str) -> None:
    await watch(client, event)
    assert (
        f"<Event>{event}</Event>".encode()
        in (await client.request("GET", f"{B}?notification")).body
    )


@pytest.mark.parametrize(
    "event",
    [
        # What this platform never does: a rule for it would promise events that never come.
        "s3:ObjectRestore:*",
        "s3:ObjectRestore:Post",
        "s3:LifecycleTransition",
        "s3:IntelligentTiering",
        "s3:ReducedRedundancyLostObject",
        "s3:Replication:*",
        # Names S3 does not have.
        "s3:ObjectAcl:*",
        "s3:ObjectTagging:Get",
    ],
)
async def test_event_types_never_emitted_are_refused_in_s3s_words(
    client: Client, event: str
) -> None:
    arn = await topic(client)
    reply = await put(client, configuration(topic_rule(arn, event)))
    assert (reply.status, reply.error_code()) == (400, "InvalidArgument")
    assert "The event is not supported for notifications" in reply.body.decode()
    assert b"TopicConfiguration" not in (await client.request("GET", f"{B}?notification")).body


async def test_object_tagging_put_and_delete_are_queued(client: Client) -> None:
    await watch(client, "s3:ObjectTagging:*")
    assert (await client.request("PUT", f"{B}/a b", b"hello")).status == 200
    assert (await tag(client, "a%20b")).status == 200
    assert (await client.request("DELETE", f"{B}/a%20b?tagging")).status == 204
    events = queued(client)
    assert [e["eventName"] for e in events] == ["ObjectTagging:Put", "ObjectTagging:Delete"]
    first = events[0]
    assert first["eventVersion"] == "2.3"
    assert first["s3"]["object"]["key"] == "a+b"
    assert first["s3"]["object"]["size"] == 5
    assert first["userIdentity"]["principalId"].endswith(":root")
    assert "versionId" not in first["s3"]["object"]  # an unversioned bucket
    assert first["s3"]["object"]["sequencer"] < events[1]["s3"]["object"]["sequencer"]


async def test_a_tagging_that_does_not_land_queues_nothing(client: Client) -> None:
    await watch(client, "s3:ObjectTagging:*")
    assert (await tag(client, "never-written")).status == 404
    assert (await client.request("DELETE", f"{B}/never-written?tagging")).status == 404
    # Only the type the rule names: an ACL change is not a tagging.
    await allow_acls(client)
    assert (await client.request("PUT", f"{B}/k", b"x")).status == 200
    assert (await share(client, "k")).status == 200
    assert queued(client) == []


async def test_a_versions_tagging_carries_its_version_id(client: Client) -> None:
    await watch(client, "s3:ObjectTagging:Put")
    await version(client)
    first = (await client.request("PUT", f"{B}/k", b"v1")).headers["x-amz-version-id"]
    assert (await client.request("PUT", f"{B}/k", b"v2")).status == 200
    assert (await tag(client, "k", f"&versionId={first}")).status == 200
    (event,) = queued(client)
    assert event["s3"]["object"]["versionId"] == first
    assert event["s3"]["object"]["size"] == 2


async def test_object_acl_put_is_queued_when_the_acl_changes(client: Client) -> None:
    await watch(client, "s3:ObjectAcl:Put")
    await allow_acls(client)
    assert (await client.request("PUT", f"{B}/k", b"x")).status == 200
    shared = await share(client, "k")
    assert shared.status == 200, shared.body
    # The same ACL put again changes nothing: S3 sends no event for it.
    assert (await share(client, "k")).status == 200
    (event,) = queued(client)
    assert (event["eventName"], event["eventVersion"]) == ("ObjectAcl:Put", "2.3")
    assert event["s3"]["object"]["key"] == "k"


async def test_an_acl_that_does_not_land_queues_nothing(client: Client) -> None:
    await watch(client, "s3:ObjectAcl:Put")
    await allow_acls(client)
    await version(client)
    assert (await client.request("PUT", f"{B}/k", b"x")).status == 200
    marker = (await client.request("DELETE", f"{B}/k")).headers["x-amz-version-id"]
    assert (await share(client, "k", f"&versionId={marker}")).status == 405
    assert (await share(client, "nothing")).status == 404
    assert queued(client) == []


async def test_a_lifecycle_expiry_is_a_lifecycle_expiration_delete(client: Client) -> None:
    await watch(client, "s3:LifecycleExpiration:*", "s3:ObjectRemoved:*")
    for key in ("tmp/old", "home/kept"):
        assert (await client.request("PUT", f"{B}/{key}", b"12345")).status == 200
    await expire(
        client, "<Filter><Prefix>tmp/</Prefix></Filter><Expiration><Days>1</Days></Expiration>"
    )
    clock = Clock()
    clock.now += timedelta(days=2)
    assert (await runner(client, clock, []).run_once()).expired == 1
    (event,) = queued(client)
    assert event["eventName"] == "LifecycleExpiration:Delete"
    assert event["eventVersion"] == "2.3"
    assert event["userIdentity"]["principalId"] == "s3.amazonaws.com"
    assert event["requestParameters"]["sourceIPAddress"] == "s3.amazonaws.com"
    assert event["responseElements"]["x-amz-request-id"]
    assert event["s3"]["object"]["key"] == "tmp/old"
    assert event["s3"]["object"]["size"] == 5
    assert event["s3"]["object"]["eTag"]


async def test_an_expiry_that_does_not_land_queues_nothing(client: Client) -> None:
    await watch(client, "s3:LifecycleExpiration:*")
    assert (await client.request("PUT", f"{B}/k", b"old")).status == 200
    await expire(client, "<Filter/><Expiration><Days>1</Days></Expiration>")
    clock = Clock()
    clock.now += timedelta(days=2)
    run = runner(client, clock, [])
    # Written again between the listing and the removal: the removal's condition fails in its
    # own step, and so nothing is announced.
    assert client.objects is not None
    listing = client.objects.list_objects

    async def listed_then_rewritten(*args: Any, **kwargs: Any) -> Any:
        found = await listing(*args, **kwargs)
        assert (await client.request("PUT", f"{B}/k", b"new")).status == 200
        return found

    client.objects.list_objects = listed_then_rewritten  # type: ignore[method-assign]
    assert (await run.run_once()).expired == 0
    assert queued(client) == []


async def test_versioned_expiries_create_markers_and_remove_versions(client: Client) -> None:
    await watch(client, "s3:LifecycleExpiration:*")
    await version(client)
    written = await client.request("PUT", f"{B}/k", b"v1")
    await expire(
        client,
        "<Filter/><Expiration><Days>1</Days></Expiration><NoncurrentVersionExpiration>"
        "<NoncurrentDays>1</NoncurrentDays></NoncurrentVersionExpiration>",
    )
    clock = Clock()
    clock.now += timedelta(days=2)
    assert (await runner(client, clock, []).run_once()).expired >= 1
    clock.now += timedelta(days=3)
    await runner(client, clock, []).run_once()
    events = queued(client)
    names = [(e["eventName"], e["s3"]["object"].get("versionId")) for e in events]
    marker = names[0]
    assert marker[0] == "LifecycleExpiration:DeleteMarkerCreated"
    assert marker[1] and marker[1] != written.headers["x-amz-version-id"]
    # The noncurrent version goes for good, then the marker left alone.
    assert ("LifecycleExpiration:Delete", written.headers["x-amz-version-id"]) in names
    assert ("LifecycleExpiration:Delete", marker[1]) in names
    assert all(e["userIdentity"]["principalId"] == "s3.amazonaws.com" for e in events)
