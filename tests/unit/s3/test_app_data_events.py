"""Data events (decision 0109): a bucket's data reads become events of its owner's log when
the bucket says so, and only then; writes are audited whatever it says."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from andromede.audit.model import AuditEvent
from support.s3app import Client, in_process_client


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    async with in_process_client(tmp_path) as c:
        yield c


async def events(client: Client, tenant_id: str | None = None) -> list[AuditEvent]:
    await client.audit.flush()
    return [e for _, e in await client.audit_store.list_events(tenant_id, after_id=0, limit=100)]


async def log_reads(client: Client, bucket: str, logged: bool) -> None:
    assert client.objects is not None
    await client.objects.set_bucket_data_reads_logged(bucket, logged)


async def every_data_read(client: Client) -> None:
    for method, path in (
        ("GET", "/photos/k"),
        ("HEAD", "/photos/k"),
        ("GET", "/photos/k?tagging"),
        ("GET", "/photos/k?acl"),
        ("GET", "/photos/k?attributes"),
        ("GET", "/photos"),
        ("GET", "/photos?list-type=2"),
        ("GET", "/photos?versions"),
        ("GET", "/photos?uploads"),
    ):
        headers = {"x-amz-object-attributes": "ETag"} if "attributes" in path else {}
        reply = await client.request(method, path, headers=headers)
        assert reply.status == 200, (path, reply.status, reply.body)


async def test_reads_are_not_events_while_the_setting_is_off(client: Client) -> None:
    await client.request("PUT", "/photos")
    await client.request("PUT", "/photos/k", b"four")
    await every_data_read(client)
    assert [e.action for e in await events(client)] == ["s3:CreateBucket", "s3:PutObject"]


async def test_every_data_read_is_an_event_once_the_setting_is_on(client: Client) -> None:
    await client.request("PUT", "/photos")
    await client.request("PUT", "/photos/k", b"four")
    await log_reads(client, "photos", True)
    await every_data_read(client)
    # Reads of the bucket's configuration are not data: never events.
    assert (await client.request("GET", "/photos?versioning")).status == 200
    assert (await client.request("GET", "/")).status == 200
    await client.request("DELETE", "/photos/k")  # writes: as ever
    found = await events(client)
    assert [(e.action, e.details["operation"]) for e in found[2:]] == [
        ("s3:GetObject", "GetObject"),
        ("s3:GetObject", "HeadObject"),
        ("s3:GetObjectTagging", "GetObjectTagging"),
        ("s3:GetObjectAcl", "GetObjectAcl"),
        ("s3:GetObjectAttributes", "GetObjectAttributes"),
        ("s3:ListBucket", "ListObjects"),
        ("s3:ListBucket", "ListObjectsV2"),
        ("s3:ListBucketVersions", "ListObjectVersions"),
        ("s3:ListBucketMultipartUploads", "ListMultipartUploads"),
        ("s3:DeleteObject", "DeleteObject"),
    ]
    get, head = found[2], found[3]
    assert get.tenant_id == client.tenant_id
    assert get.principal == found[0].principal  # the tenant's root, who read
    assert get.resource == "arn:aws:s3:::photos/k"
    assert get.outcome.value == "success"
    assert get.details["status"] == "200"
    assert get.details["bytes_sent"] == "4"
    assert head.details["bytes_sent"] == "0"
    assert get.request_id != head.request_id


async def test_a_failed_or_denied_read_is_a_failure_event_of_the_owner(client: Client) -> None:
    await client.request("PUT", "/photos")
    await log_reads(client, "photos", True)
    assert (await client.request("GET", "/photos/missing")).status == 404
    stranger = await client.other_tenant("stranger")
    assert (await stranger.request("GET", "/photos/missing")).error_code() == "AccessDenied"
    assert (await client.as_anonymous().request("GET", "/photos")).status == 403
    owner = await events(client, client.tenant_id)
    assert [(e.action, e.outcome.value, e.details["status"]) for e in owner[1:]] == [
        ("s3:GetObject", "failure", "404"),
        ("s3:GetObject", "failure", "403"),
        ("s3:ListBucket", "failure", "403"),
    ]
    # The stranger's own log has nothing of another tenant's bucket.
    assert await events(client, stranger.tenant_id) == []


async def test_turning_the_setting_off_stops_the_events(client: Client) -> None:
    await client.request("PUT", "/photos")
    await client.request("PUT", "/other")
    await client.request("PUT", "/photos/k", b"four")
    await client.request("PUT", "/other/k", b"four")
    await log_reads(client, "photos", True)
    await client.request("GET", "/other/k")  # another bucket: its own setting, off
    await client.request("GET", "/photos/k")
    await log_reads(client, "photos", False)
    await client.request("GET", "/photos/k")
    reads = [e for e in await events(client) if e.action == "s3:GetObject"]
    assert [e.resource for e in reads] == ["arn:aws:s3:::photos/k"]
