"""The configurations no bucket here has, answered as S3 answers them for a bucket that never
had one (decision 0083): notifications, replication, Object Lock and Transfer Acceleration —
the state they are in is taken, turning one on is refused; and Requester Pays' default, the
owner paying (decision 0133: tests/unit/s3/test_request_payment.py turns it on)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from support.s3app import Client, in_process_client

B = "/quiet"


def md5_header(body: bytes) -> dict[str, str]:
    digest = hashlib.md5(body, usedforsecurity=False).digest()
    return {"Content-MD5": base64.b64encode(digest).decode()}


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    async with in_process_client(tmp_path) as made:
        assert (await made.request("PUT", B)).status == 200
        yield made


@pytest.mark.parametrize(
    ("query", "document"),
    [
        ("notification", b"<NotificationConfiguration"),
        ("accelerate", b"<AccelerateConfiguration"),
        ("requestPayment", b"<Payer>BucketOwner</Payer>"),
    ],
)
async def test_reads_answer_the_state_every_bucket_is_in(
    client: Client, query: str, document: bytes
) -> None:
    reply = await client.request("GET", f"{B}?{query}")
    assert reply.status == 200
    assert document in reply.body
    assert b"<Status>" not in reply.body and b"<LoggingEnabled>" not in reply.body


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("replication", "ReplicationConfigurationNotFoundError"),
        ("object-lock", "ObjectLockConfigurationNotFoundError"),
    ],
)
async def test_absent_configurations_are_not_found(client: Client, query: str, code: str) -> None:
    reply = await client.request("GET", f"{B}?{query}")
    assert (reply.status, reply.error_code()) == (404, code)
    missing = await client.request("GET", f"/no-such-bucket?{query}")
    assert (missing.status, missing.error_code()) == (404, "NoSuchBucket")


@pytest.mark.parametrize(
    ("query", "body", "status"),
    [
        ("notification", b"<NotificationConfiguration></NotificationConfiguration>", 200),
        (
            "requestPayment",
            b"<RequestPaymentConfiguration><Payer>BucketOwner</Payer>"
            b"</RequestPaymentConfiguration>",
            200,
        ),
        ("replication", b"", 204),
    ],
)
async def test_writes_of_the_state_the_bucket_is_in_are_taken(
    client: Client, query: str, body: bytes, status: int
) -> None:
    method = "DELETE" if not body else "PUT"
    reply = await client.request(method, f"{B}?{query}", body, md5_header(body) if body else None)
    assert reply.status == status, reply.body


@pytest.mark.parametrize(
    ("query", "body", "status", "code"),
    [
        (
            "notification",
            b"<NotificationConfiguration><QueueConfiguration><Queue>arn:aws:sqs:eu:1:q</Queue>"
            b"<Event>s3:ObjectCreated:*</Event></QueueConfiguration></NotificationConfiguration>",
            501,
            "NotImplemented",
        ),
        (
            "requestPayment",
            b"<RequestPaymentConfiguration><Payer>Nobody</Payer></RequestPaymentConfiguration>",
            400,
            "MalformedXML",
        ),
        (
            "replication",
            b"<ReplicationConfiguration><Role>arn:aws:iam::1:role/r</Role><Rule>"
            b"<Status>Enabled</Status><Destination><Bucket>arn:aws:s3:::elsewhere</Bucket>"
            b"</Destination></Rule></ReplicationConfiguration>",
            400,
            "InvalidRequest",
        ),
        (
            "object-lock",
            b"<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled>"
            b"</ObjectLockConfiguration>",
            409,
            "InvalidBucketState",
        ),
        ("requestPayment", b"<NotAPayment/>", 400, "MalformedXML"),
    ],
)
async def test_turning_a_feature_on_is_refused_and_changes_nothing(
    client: Client, query: str, body: bytes, status: int, code: str
) -> None:
    reply = await client.request("PUT", f"{B}?{query}", body, md5_header(body))
    assert (reply.status, reply.error_code()) == (status, code)
    after = await client.request("GET", f"{B}?{query}")
    assert after.status in (200, 404)
    for turned_on in (b"LoggingEnabled", b"Requester", b"QueueConfiguration", b"<Rule>"):
        assert turned_on not in after.body


async def test_another_tenant_reads_none_of_them(client: Client) -> None:
    other = await client.other_tenant("nosy")
    for query in ("logging", "notification", "accelerate", "requestPayment", "replication"):
        reply = await other.request("GET", f"{B}?{query}")
        assert (reply.status, reply.error_code()) == (403, "AccessDenied"), query


@pytest.mark.parametrize(
    ("method", "query", "body"),
    [
        ("GET", "retention", b""),
        (
            "PUT",
            "retention",
            b"<Retention><Mode>COMPLIANCE</Mode><RetainUntilDate>2030-01-01T00:00:00Z"
            b"</RetainUntilDate></Retention>",
        ),
        ("GET", "legal-hold", b""),
        ("PUT", "legal-hold", b"<LegalHold><Status>ON</Status></LegalHold>"),
    ],
)
async def test_an_objects_retention_and_legal_hold_need_an_object_lock_configuration(
    client: Client, method: str, query: str, body: bytes
) -> None:
    assert (await client.request("PUT", f"{B}/kept", b"data")).status == 200
    reply = await client.request(method, f"{B}/kept?{query}", body, md5_header(body))
    assert (reply.status, reply.error_code()) == (400, "InvalidRequest")
    assert b"Bucket is missing Object Lock Configuration" in reply.body
    # Nothing holds the object: it is deleted as any other.
    assert (await client.request("DELETE", f"{B}/kept")).status == 204


async def test_object_lock_headers_on_writes_get_the_same_answer(client: Client) -> None:
    lock = {
        "x-amz-object-lock-mode": "COMPLIANCE",
        "x-amz-object-lock-retain-until-date": "2030-01-01T00:00:00Z",
    }
    for method, path in (("PUT", f"{B}/locked"), ("POST", f"{B}/locked?uploads")):
        reply = await client.request(method, path, b"x" if method == "PUT" else b"", lock)
        assert (reply.status, reply.error_code()) == (400, "InvalidRequest")
    assert (await client.request("HEAD", f"{B}/locked")).status == 404
