"""PostObject in process (decision 0079): forms signed as botocore's ``generate_presigned_post``
signs them, posted unsigned as a browser posts them; the policy's conditions, the answers, and
what a bad form gets."""

from __future__ import annotations

import base64
import json
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import defusedxml.ElementTree as ElementTree
import pytest
from botocore.config import Config

from support.s3app import Client, Reply, in_process_client
from support.server import REGION

B = "uploads"


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    async with in_process_client(tmp_path) as made:
        assert (await made.request("PUT", f"/{B}")).status == 200
        yield made


def presigned(
    client: Client,
    key: str,
    fields: dict[str, str] | None = None,
    conditions: list[Any] | None = None,
    expires: int = 300,
) -> dict[str, str]:
    """The form fields botocore signs for ``key`` with this client's credentials."""
    assert client.credentials is not None
    s3 = boto3.session.Session(
        aws_access_key_id=client.credentials.access_key,
        aws_secret_access_key=client.credentials.secret_key,
        region_name=REGION,
    ).client(
        "s3", endpoint_url="http://127.0.0.1:9000", config=Config(s3={"addressing_style": "path"})
    )
    post = s3.generate_presigned_post(
        B, key, Fields=fields, Conditions=conditions, ExpiresIn=expires
    )
    assert post["url"] == f"http://127.0.0.1:9000/{B}"
    return dict(post["fields"])


def _field(boundary: str, name: str, value: str) -> bytes:
    disposition = f'Content-Disposition: form-data; name="{name}"'
    return f"--{boundary}\r\n{disposition}\r\n\r\n{value}\r\n".encode()


def encode(
    fields: dict[str, str] | list[tuple[str, str]],
    file: bytes | None,
    filename: str = "photo.jpg",
    after: list[tuple[str, str]] | None = None,
) -> tuple[bytes, str]:
    """A multipart/form-data body as a browser builds it: fields, the file, then ``after``."""
    boundary = f"----form{uuid.uuid4().hex}"
    parts: list[bytes] = []
    items = list(fields.items()) if isinstance(fields, dict) else fields
    parts += [_field(boundary, name, value) for name, value in items]
    if file is not None:
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="{filename}"\r\nContent-Type: image/jpeg\r\n\r\n'.encode()
            + file
            + b"\r\n"
        )
    parts += [_field(boundary, name, value) for name, value in after or []]
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


async def post(client: Client, body: bytes, content_type: str) -> Reply:
    # A browser's POST carries no signature of its own: the form does.
    return await client.request("POST", f"/{B}", body, {"Content-Type": content_type}, sign=False)


async def test_a_signed_form_uploads_and_answers_204(client: Client) -> None:
    fields = presigned(
        client,
        "docs/${filename}",
        {"Content-Type": "text/plain", "x-amz-meta-author": "ada"},
        [{"Content-Type": "text/plain"}, {"x-amz-meta-author": "ada"}],
    )
    data = os.urandom(200_000)
    reply = await post(client, *encode(fields, data, filename="C:\\Users\\ada\\notes.txt"))
    assert reply.status == 204, reply.body
    assert reply.headers["location"] == f"http://127.0.0.1:9000/{B}/docs/notes.txt"
    got = await client.request("GET", f"/{B}/docs/notes.txt")
    assert got.body == data
    assert got.headers["content-type"] == "text/plain"
    assert got.headers["x-amz-meta-author"] == "ada"
    assert got.headers["etag"] == reply.headers["etag"]
    assert got.headers["x-amz-server-side-encryption"] == "AES256"
    # The signer's write is audited as the signer's.
    await client.audit.flush()
    events = await client.audit_store.list_events(None, after_id=0, limit=100)
    posts = [event for _, event in events if event.action == "s3:PutObject"]
    assert posts[-1].principal == f"arn:aws:iam::{client.tenant_id}:root"


async def test_success_status_201_and_redirects(client: Client) -> None:
    fields = presigned(
        client, "a.txt", {"success_action_status": "201"}, [{"success_action_status": "201"}]
    )
    reply = await post(client, *encode(fields, b"hello"))
    assert reply.status == 201
    root = ElementTree.fromstring(reply.body)
    assert root.tag == "PostResponse"
    assert {child.tag: child.text for child in root} == {
        "Location": f"http://127.0.0.1:9000/{B}/a.txt",
        "Bucket": B,
        "Key": "a.txt",
        "ETag": reply.headers["etag"],
    }
    target = "https://app.example.org/done?from=form"
    fields = presigned(
        client, "b.txt", {"success_action_redirect": target}, [{"success_action_redirect": target}]
    )
    reply = await post(client, *encode(fields, b"world"))
    assert reply.status == 303
    location = reply.headers["location"]
    assert location.startswith(target + "&bucket=uploads&key=b.txt&etag=%22")
    fields = presigned(
        client, "c.txt", {"success_action_status": "200"}, [{"success_action_status": "200"}]
    )
    assert (await post(client, *encode(fields, b"!"))).status == 200


async def test_the_size_range_is_checked_and_nothing_is_kept(client: Client) -> None:
    conditions: list[Any] = [["content-length-range", 10, 1000]]
    for size, code in ((9, "EntityTooSmall"), (1001, "EntityTooLarge")):
        fields = presigned(client, f"sized-{size}", conditions=conditions)
        reply = await post(client, *encode(fields, b"x" * size))
        assert (reply.status, reply.error_code()) == (400, code)
        assert (await client.request("HEAD", f"/{B}/sized-{size}")).status == 404
    fields = presigned(client, "sized-ok", conditions=conditions)
    assert (await post(client, *encode(fields, b"x" * 1000))).status == 204


async def test_fields_after_the_file_are_ignored(client: Client) -> None:
    fields = presigned(client, "ordered")
    body, kind = encode(fields, b"first", after=[("x-amz-meta-late", "ignored"), ("key", "other")])
    assert (await post(client, body, kind)).status == 204
    got = await client.request("GET", f"/{B}/ordered")
    assert got.body == b"first" and "x-amz-meta-late" not in got.headers
    assert (await client.request("HEAD", f"/{B}/other")).status == 404


def _policy(expiration: datetime, conditions: list[Any]) -> str:
    document = {"expiration": expiration.strftime("%Y-%m-%dT%H:%M:%SZ"), "conditions": conditions}
    return base64.b64encode(json.dumps(document).encode()).decode()


async def test_a_form_the_policy_does_not_allow_is_refused(client: Client) -> None:
    fields = presigned(client, "k", conditions=[["starts-with", "$key", "k"]])
    # A field the policy does not name.
    refused = await post(client, *encode({**fields, "x-amz-meta-extra": "1"}, b"."))
    assert (refused.status, refused.error_code()) == (403, "AccessDenied")
    assert b"Extra input fields: x-amz-meta-extra" in refused.body
    # A condition that fails.
    fields = presigned(client, "other", {"acl": "private"}, [{"acl": "public-read"}])
    refused = await post(client, *encode(fields, b"."))
    assert (refused.status, refused.error_code()) == (403, "AccessDenied")
    assert b"Policy Condition failed" in refused.body
    # An expired policy, re-signed so only its expiry is wrong.
    expired = presigned(client, "late", expires=-10)
    refused = await post(client, *encode(expired, b"."))
    assert (refused.status, refused.error_code()) == (403, "AccessDenied")
    assert b"Policy expired" in refused.body
    # A policy changed after signing.
    changed = dict(presigned(client, "k2"))
    changed["policy"] = _policy(datetime.now(UTC) + timedelta(hours=1), [{"bucket": B}])
    refused = await post(client, *encode(changed, b"."))
    assert (refused.status, refused.error_code()) == (403, "SignatureDoesNotMatch")
    for key in ("k", "other", "late", "k2"):
        assert (await client.request("HEAD", f"/{B}/{key}")).status == 404


async def test_an_anonymous_form_needs_a_policy_that_lets_anyone_in(client: Client) -> None:
    refused = await post(client, *encode({"key": "anon.txt"}, b"."))
    assert (refused.status, refused.error_code()) == (403, "AccessDenied")
    other = await client.other_tenant("other")
    assert other.credentials is not None
    theirs = presigned(other, "theirs.txt")
    refused = await post(client, *encode(theirs, b"."))
    assert (refused.status, refused.error_code()) == (403, "AccessDenied")
    assert (await client.request("HEAD", f"/{B}/theirs.txt")).status == 404


@pytest.mark.parametrize(
    ("fields", "file", "content_type", "status", "code"),
    [
        ({"x": "y"}, b"data", None, 400, "InvalidArgument"),  # no key
        ({"key": "k"}, None, None, 400, "InvalidArgument"),  # no file
        (
            {"key": "k", "AWSAccessKeyId": "AKIA", "signature": "x"},
            b".",
            None,
            400,
            "InvalidArgument",
        ),
        ({"key": "k", "policy": "e30="}, b".", None, 400, "InvalidArgument"),  # no signature
        ({"key": "k"}, b".", "text/plain", 412, "PreconditionFailed"),
    ],
)
async def test_malformed_forms(
    client: Client,
    fields: dict[str, str],
    file: bytes | None,
    content_type: str | None,
    status: int,
    code: str,
) -> None:
    body, kind = encode(fields, file)
    reply = await post(client, body, content_type or kind)
    assert (reply.status, reply.error_code()) == (status, code)


async def test_a_cut_form_and_oversized_fields(tmp_path: Path) -> None:
    async with in_process_client(tmp_path, max_post_form_fields_size=1024) as small:
        assert (await small.request("PUT", f"/{B}")).status == 200
        fields = presigned(
            small, "big", {"x-amz-meta-pad": "p" * 2000}, [{"x-amz-meta-pad": "p" * 2000}]
        )
        reply = await post(small, *encode(fields, b"."))
        assert (reply.status, reply.error_code()) == (400, "MaxPostPreDataLengthExceeded")
        # Parts with short names and no values count by their headers as well.
        many = [(f"x{n}", "") for n in range(200)]
        reply = await post(small, *encode([*many, ("key", "k")], b"."))
        assert (reply.status, reply.error_code()) == (400, "MaxPostPreDataLengthExceeded")
        fields = presigned(small, "cut")
        body, kind = encode(fields, b"0123456789" * 100)
        reply = await post(small, body[:-40], kind)
        assert reply.status == 400 and reply.error_code() in (
            "IncompleteBody",
            "MalformedPOSTRequest",
        )
        assert (await small.request("HEAD", f"/{B}/cut")).status == 404


async def test_tags_in_a_form(client: Client) -> None:
    tagging = "<Tagging><TagSet><Tag><Key>team</Key><Value>web</Value></Tag></TagSet></Tagging>"
    fields = presigned(client, "tagged", {"tagging": tagging}, [{"tagging": tagging}])
    assert (await post(client, *encode(fields, b"t"))).status == 204
    got = await client.request("GET", f"/{B}/tagged?tagging")
    assert b"<Key>team</Key><Value>web</Value>" in got.body


async def test_a_form_upload_is_an_object_created_post_event(client: Client) -> None:
    """Decision 0132: a bucket's notifications tell of a form upload as ``ObjectCreated:Post``,
    by the form's signer."""
    assert client.topics is not None and client.store is not None
    topic = await client.topics.create_topic(client.tenant_id, "forms", {})
    config = (
        "<NotificationConfiguration><TopicConfiguration>"
        f"<Topic>{topic.arn}</Topic><Event>s3:ObjectCreated:Post</Event>"
        "</TopicConfiguration></NotificationConfiguration>"
    ).encode()
    assert (await client.request("PUT", f"/{B}?notification", config)).status == 200
    reply = await post(client, *encode(presigned(client, "forms/${filename}"), b"form data"))
    assert reply.status == 204, reply.body
    ((_, arn, message, _),) = client.store.notification_outbox
    (record,) = json.loads(message)["Records"]
    assert arn == topic.arn
    assert record["eventName"] == "ObjectCreated:Post"
    assert record["s3"]["object"]["key"] == "forms/photo.jpg"
    assert record["userIdentity"]["principalId"] == f"arn:aws:iam::{client.tenant_id}:root"
