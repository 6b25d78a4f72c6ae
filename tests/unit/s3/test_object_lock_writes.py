"""S3 Object Lock's second increment in process (decision 0104): lock headers on
CreateMultipartUpload and lock fields in PostObject forms, the Object Lock condition keys in
bucket policies, and GetObjectLegalHold for a version that never had a hold."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import defusedxml.ElementTree as ElementTree
import pytest
from botocore.config import Config

from support.s3app import REGION, Client, Reply, in_process_client

B = "/locked"
_PART = b"p" * 5 * 1024 * 1024  # the smallest part but the last


def _md5(body: bytes) -> dict[str, str]:
    return {
        "Content-MD5": base64.b64encode(hashlib.md5(body, usedforsecurity=False).digest()).decode()
    }


def _date(days: float) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _fields(reply: Reply) -> dict[str, str]:
    assert reply.status == 200, reply.body
    root = ElementTree.fromstring(reply.body)
    return {element.tag.split("}")[-1]: element.text or "" for element in root.iter()}


def _retention(mode: str, until: str) -> bytes:
    return (
        f"<Retention><Mode>{mode}</Mode><RetainUntilDate>{until}</RetainUntilDate></Retention>"
    ).encode()


async def _default(client: Client, mode: str, days: int) -> None:
    body = (
        "<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule>"
        f"<DefaultRetention><Mode>{mode}</Mode><Days>{days}</Days></DefaultRetention>"
        "</Rule></ObjectLockConfiguration>"
    ).encode()
    reply = await client.request("PUT", f"{B}?object-lock", body, _md5(body))
    assert reply.status == 200, reply.body


async def _policy(client: Client, statements: list[dict[str, Any]]) -> None:
    body = json.dumps({"Version": "2012-10-17", "Statement": statements}).encode()
    reply = await client.request("PUT", f"{B}?policy", body)
    assert reply.status == 204, reply.body


def _deny(action: str, condition: dict[str, Any]) -> dict[str, Any]:
    return {
        "Effect": "Deny",
        "Principal": "*",
        "Action": action,
        "Resource": f"arn:aws:s3:::{B[1:]}/*",
        "Condition": condition,
    }


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    async with in_process_client(tmp_path) as made:
        reply = await made.request("PUT", B, headers={"x-amz-bucket-object-lock-enabled": "true"})
        assert reply.status == 200, reply.body
        yield made


async def _multipart(
    client: Client, key: str, headers: dict[str, str], parts: int = 2
) -> tuple[Reply, Reply]:
    """Create an upload with ``headers``, upload ``parts`` parts, complete it: the create's
    and the completion's replies."""
    created = await client.request("POST", f"{B}/{key}?uploads", headers=headers)
    if created.status != 200:
        return created, created
    upload_id = _fields(created)["UploadId"]
    listed = ""
    for number in range(1, parts + 1):
        reply = await client.request(
            "PUT", f"{B}/{key}?partNumber={number}&uploadId={upload_id}", _PART, _md5(_PART)
        )
        assert reply.status == 200, reply.body
        listed += (
            f"<Part><PartNumber>{number}</PartNumber><ETag>{reply.headers['etag']}</ETag></Part>"
        )
    body = f"<CompleteMultipartUpload>{listed}</CompleteMultipartUpload>".encode()
    completed = await client.request("POST", f"{B}/{key}?uploadId={upload_id}", body)
    return created, completed


# -- CreateMultipartUpload -------------------------------------------------------------------


async def test_a_multipart_upload_gives_its_version_the_lock_its_headers_asked(
    client: Client,
) -> None:
    """Explicit settings win over the bucket's default, as on AWS; no Content-MD5 is asked
    of the create, which has no body."""
    await _default(client, "GOVERNANCE", 1)
    until = _date(3)
    created, completed = await _multipart(
        client,
        "big",
        {
            "x-amz-object-lock-mode": "COMPLIANCE",
            "x-amz-object-lock-retain-until-date": until,
            "x-amz-object-lock-legal-hold": "ON",
        },
    )
    assert created.status == 200, created.body
    assert completed.status == 200, completed.body
    vid = completed.headers["x-amz-version-id"]
    head = await client.request("HEAD", f"{B}/big?versionId={vid}")
    assert head.headers["x-amz-object-lock-mode"] == "COMPLIANCE"
    assert head.headers["x-amz-object-lock-retain-until-date"][:19] == until[:19]
    assert head.headers["x-amz-object-lock-legal-hold"] == "ON"
    assert _fields(await client.request("GET", f"{B}/big?legal-hold&versionId={vid}")) == {
        "LegalHold": "",
        "Status": "ON",
    }
    bypass = {"x-amz-bypass-governance-retention": "true"}
    reply = await client.request("DELETE", f"{B}/big?versionId={vid}", headers=bypass)
    assert (reply.status, reply.error_code()) == (403, "AccessDenied")


async def test_a_hold_alone_on_an_upload_takes_the_default_retention_at_completion(
    client: Client,
) -> None:
    await _default(client, "GOVERNANCE", 2)
    _, completed = await _multipart(client, "k", {"x-amz-object-lock-legal-hold": "OFF"}, 1)
    vid = completed.headers["x-amz-version-id"]
    head = await client.request("HEAD", f"{B}/k?versionId={vid}")
    assert head.headers["x-amz-object-lock-mode"] == "GOVERNANCE"
    until = datetime.fromisoformat(head.headers["x-amz-object-lock-retain-until-date"])
    assert timedelta(days=1.99) < until - datetime.now(UTC) <= timedelta(days=2)
    # Written OFF: a hold was set, so it is shown, OFF.
    assert head.headers["x-amz-object-lock-legal-hold"] == "OFF"
    hold = _fields(await client.request("GET", f"{B}/k?legal-hold&versionId={vid}"))
    assert hold["Status"] == "OFF"


async def test_an_upload_without_lock_headers_gets_no_lock_but_the_default(
    client: Client,
) -> None:
    _, completed = await _multipart(client, "free", {}, 1)
    vid = completed.headers["x-amz-version-id"]
    for query in ("retention", "legal-hold"):
        reply = await client.request("GET", f"{B}/free?{query}&versionId={vid}")
        assert (reply.status, reply.error_code()) == (404, "NoSuchObjectLockConfiguration")
    assert (await client.request("DELETE", f"{B}/free?versionId={vid}")).status == 204


@pytest.mark.parametrize(
    "headers",
    [
        {"x-amz-object-lock-mode": "COMPLIANCE"},
        {"x-amz-object-lock-retain-until-date": _date(1)},
        {"x-amz-object-lock-mode": "COMPLIANCE", "x-amz-object-lock-retain-until-date": _date(-1)},
        {"x-amz-object-lock-mode": "FOREVER", "x-amz-object-lock-retain-until-date": _date(1)},
        {"x-amz-object-lock-mode": "COMPLIANCE", "x-amz-object-lock-retain-until-date": "soon"},
        {"x-amz-object-lock-legal-hold": "MAYBE"},
    ],
)
async def test_multipart_lock_headers_are_checked_as_put_objects_are(
    client: Client, headers: dict[str, str]
) -> None:
    reply = await client.request("POST", f"{B}/k?uploads", headers=headers)
    assert (reply.status, reply.error_code()) == (400, "InvalidArgument")
    listing = await client.request("GET", f"{B}?uploads")
    assert b"<Upload>" not in listing.body  # nothing was started


async def test_multipart_lock_headers_need_their_permissions(client: Client) -> None:
    user = await client.iam_user("writer")
    assert client.identity is not None

    async def allow(actions: list[str]) -> None:
        assert client.identity is not None
        document = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
        }
        await client.identity.put_user_policy(
            client.tenant_id, "writer", "write", json.dumps(document)
        )

    await allow(["s3:PutObject"])
    retention = {
        "x-amz-object-lock-mode": "GOVERNANCE",
        "x-amz-object-lock-retain-until-date": _date(1),
    }
    hold = {"x-amz-object-lock-legal-hold": "ON"}
    for headers in (retention, hold):
        reply = await user.request("POST", f"{B}/k?uploads", headers=headers)
        assert (reply.status, reply.error_code()) == (403, "AccessDenied")
    await allow(["s3:PutObject", "s3:PutObjectRetention", "s3:PutObjectLegalHold"])
    for headers in (retention, hold):
        assert (await user.request("POST", f"{B}/k?uploads", headers=headers)).status == 200


# -- PostObject ------------------------------------------------------------------------------


def _presigned(client: Client, key: str, fields: dict[str, str], conditions: list[Any]) -> dict:
    assert client.credentials is not None
    s3 = boto3.session.Session(
        aws_access_key_id=client.credentials.access_key,
        aws_secret_access_key=client.credentials.secret_key,
        region_name=REGION,
    ).client(
        "s3", endpoint_url="http://127.0.0.1:9000", config=Config(s3={"addressing_style": "path"})
    )
    post = s3.generate_presigned_post(B[1:], key, Fields=fields, Conditions=conditions)
    return dict(post["fields"])


async def _post_form(client: Client, fields: dict[str, str], data: bytes) -> Reply:
    boundary = f"----form{uuid.uuid4().hex}"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="f.bin"\r\n'
        f"Content-Type: application/octet-stream\r\n\r\n".encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    content_type = f"multipart/form-data; boundary={boundary}"
    return await client.request(
        "POST", B, b"".join(parts), {"Content-Type": content_type}, sign=False
    )


async def test_a_form_sets_the_lock_its_fields_ask_and_its_policy_allows(
    client: Client,
) -> None:
    until = _date(2)
    lock = {
        "x-amz-object-lock-mode": "GOVERNANCE",
        "x-amz-object-lock-retain-until-date": until,
        "x-amz-object-lock-legal-hold": "ON",
    }
    fields = _presigned(client, "form.bin", lock, [{name: value} for name, value in lock.items()])
    reply = await _post_form(client, fields, b"posted")
    assert reply.status == 204, reply.body
    head = await client.request("HEAD", f"{B}/form.bin")
    assert head.headers["x-amz-object-lock-mode"] == "GOVERNANCE"
    assert head.headers["x-amz-object-lock-retain-until-date"][:19] == until[:19]
    assert head.headers["x-amz-object-lock-legal-hold"] == "ON"
    vid = head.headers["x-amz-version-id"]
    reply = await client.request(
        "DELETE",
        f"{B}/form.bin?versionId={vid}",
        headers={"x-amz-bypass-governance-retention": "true"},
    )
    assert (reply.status, reply.error_code()) == (403, "AccessDenied")  # the hold holds


async def test_a_lock_field_needs_a_policy_condition_and_is_checked(client: Client) -> None:
    # A lock field the signed policy does not name: refused, as any other field.
    fields = _presigned(client, "form.bin", {}, [])
    fields["x-amz-object-lock-legal-hold"] = "ON"
    reply = await _post_form(client, fields, b"posted")
    assert (reply.status, reply.error_code()) == (403, "AccessDenied")
    assert b"Extra input fields" in reply.body
    # Named by the policy but invalid: PutObject's errors.
    past = {
        "x-amz-object-lock-mode": "COMPLIANCE",
        "x-amz-object-lock-retain-until-date": _date(-1),
    }
    fields = _presigned(client, "form.bin", past, [{name: value} for name, value in past.items()])
    reply = await _post_form(client, fields, b"posted")
    assert (reply.status, reply.error_code()) == (400, "InvalidArgument")
    assert (await client.request("HEAD", f"{B}/form.bin")).status == 404
    # In a bucket without Object Lock: InvalidRequest.
    assert (await client.request("PUT", "/plain")).status == 200
    assert client.credentials is not None
    s3 = boto3.session.Session(
        aws_access_key_id=client.credentials.access_key,
        aws_secret_access_key=client.credentials.secret_key,
        region_name=REGION,
    ).client(
        "s3", endpoint_url="http://127.0.0.1:9000", config=Config(s3={"addressing_style": "path"})
    )
    hold = {"x-amz-object-lock-legal-hold": "ON"}
    plain = dict(s3.generate_presigned_post("plain", "k", Fields=hold, Conditions=[hold])["fields"])
    boundary = f"----form{uuid.uuid4().hex}"
    body = (
        b"".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{n}"\r\n\r\n{v}\r\n'.encode()
            for n, v in plain.items()
        )
        + (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="f"\r\n\r\n'
            f"x\r\n--{boundary}--\r\n"
        ).encode()
    )
    reply = await client.request(
        "POST",
        "/plain",
        body,
        {"Content-Type": f"multipart/form-data; boundary={boundary}"},
        sign=False,
    )
    assert (reply.status, reply.error_code()) == (400, "InvalidRequest")


async def test_a_form_without_lock_fields_gets_the_default(client: Client) -> None:
    await _default(client, "COMPLIANCE", 1)
    reply = await _post_form(client, _presigned(client, "d.bin", {}, []), b"posted")
    assert reply.status == 204, reply.body
    head = await client.request("HEAD", f"{B}/d.bin")
    assert head.headers["x-amz-object-lock-mode"] == "COMPLIANCE"
    assert "x-amz-object-lock-legal-hold" not in head.headers


# -- condition keys --------------------------------------------------------------------------


async def test_a_bucket_policy_bounds_the_retention_days(client: Client) -> None:
    """AWS's own example: deny PutObjectRetention beyond a number of remaining days."""
    await _policy(
        client,
        [
            _deny(
                "s3:PutObjectRetention",
                {"NumericGreaterThan": {"s3:object-lock-remaining-retention-days": "30"}},
            )
        ],
    )
    put = await client.request("PUT", f"{B}/k", b"x", _md5(b"x"))
    vid = put.headers["x-amz-version-id"]
    for days, status in ((10, 200), (29.9, 200), (30.01, 403), (40, 403)):
        body = _retention("GOVERNANCE", _date(days))
        reply = await client.request("PUT", f"{B}/k?retention&versionId={vid}", body, _md5(body))
        assert reply.status == status, (days, reply.body)
    retention = _fields(await client.request("GET", f"{B}/k?retention&versionId={vid}"))
    assert retention["RetainUntilDate"][:10] == _date(29.9)[:10]
    # The write's lock headers are tested by the same key (their permission is this one).
    headers = {
        **_md5(b"x"),
        "x-amz-object-lock-mode": "GOVERNANCE",
        "x-amz-object-lock-retain-until-date": _date(40),
    }
    reply = await client.request("PUT", f"{B}/k2", b"x", headers)
    assert (reply.status, reply.error_code()) == (403, "AccessDenied")
    headers["x-amz-object-lock-retain-until-date"] = _date(5)
    assert (await client.request("PUT", f"{B}/k2", b"x", headers)).status == 200


async def test_mode_date_and_hold_keys_reach_the_policy(client: Client) -> None:
    await _policy(
        client,
        [
            _deny("s3:PutObject", {"StringEquals": {"s3:object-lock-mode": "COMPLIANCE"}}),
            _deny(
                "s3:PutObject",
                {"DateGreaterThan": {"s3:object-lock-retain-until-date": _date(60)}},
            ),
            _deny("s3:PutObjectLegalHold", {"StringEquals": {"s3:object-lock-legal-hold": "OFF"}}),
        ],
    )
    compliance = {
        "x-amz-object-lock-mode": "COMPLIANCE",
        "x-amz-object-lock-retain-until-date": _date(1),
    }
    # On PutObject and on CreateMultipartUpload (both s3:PutObject).
    reply = await client.request("PUT", f"{B}/c", b"x", {**_md5(b"x"), **compliance})
    assert (reply.status, reply.error_code()) == (403, "AccessDenied")
    reply = await client.request("POST", f"{B}/c?uploads", headers=compliance)
    assert (reply.status, reply.error_code()) == (403, "AccessDenied")
    far = {"x-amz-object-lock-mode": "GOVERNANCE", "x-amz-object-lock-retain-until-date": _date(90)}
    reply = await client.request("PUT", f"{B}/c", b"x", {**_md5(b"x"), **far})
    assert (reply.status, reply.error_code()) == (403, "AccessDenied")
    near = {"x-amz-object-lock-mode": "GOVERNANCE", "x-amz-object-lock-retain-until-date": _date(9)}
    assert (await client.request("PUT", f"{B}/c", b"x", {**_md5(b"x"), **near})).status == 200
    # A hold may be put on and not lifted.
    put = await client.request("PUT", f"{B}/h", b"x", _md5(b"x"))
    vid = put.headers["x-amz-version-id"]
    for status, expected in (("ON", 200), ("OFF", 403)):
        body = f"<LegalHold><Status>{status}</Status></LegalHold>".encode()
        reply = await client.request("PUT", f"{B}/h?legal-hold&versionId={vid}", body, _md5(body))
        assert reply.status == expected, (status, reply.body)
    # Without lock headers, no key: the Deny on the mode does not stop a plain write.
    assert (await client.request("PUT", f"{B}/plain", b"x")).status == 200


async def test_a_retention_call_is_authorised_before_its_body_is_judged(client: Client) -> None:
    """A caller without the right learns AccessDenied whatever the body, the digest or the
    bucket; the owner learns what is wrong."""
    user = await client.iam_user("nobody")
    put = await client.request("PUT", f"{B}/k", b"x", _md5(b"x"))
    vid = put.headers["x-amz-version-id"]
    for body, headers in (
        (b"<Retention><Mode>", _md5(b"<Retention><Mode>")),
        (_retention("GOVERNANCE", _date(1)), {}),
    ):
        reply = await user.request("PUT", f"{B}/k?retention&versionId={vid}", body, headers)
        assert (reply.status, reply.error_code()) == (403, "AccessDenied")
        reply = await client.request("PUT", f"{B}/k?retention&versionId={vid}", body, headers)
        assert reply.status == 400
    assert (await client.request("PUT", "/plain")).status == 200
    body = b"<LegalHold><Status>ON</Status></LegalHold>"
    reply = await client.request("PUT", "/plain/k?legal-hold", body, _md5(body))
    assert (reply.status, reply.error_code()) == (400, "InvalidRequest")


# -- GetObjectLegalHold ----------------------------------------------------------------------


async def test_a_hold_never_set_is_no_configuration_and_a_lifted_one_is_off(
    client: Client,
) -> None:
    await _default(client, "GOVERNANCE", 1)
    put = await client.request("PUT", f"{B}/k", b"x", _md5(b"x"))
    vid = put.headers["x-amz-version-id"]
    reply = await client.request("GET", f"{B}/k?legal-hold&versionId={vid}")
    assert (reply.status, reply.error_code()) == (404, "NoSuchObjectLockConfiguration")
    assert (
        "x-amz-object-lock-legal-hold"
        not in (await client.request("HEAD", f"{B}/k?versionId={vid}")).headers
    )
    for status in ("ON", "OFF"):
        body = f"<LegalHold><Status>{status}</Status></LegalHold>".encode()
        reply = await client.request("PUT", f"{B}/k?legal-hold&versionId={vid}", body, _md5(body))
        assert reply.status == 200
        hold = _fields(await client.request("GET", f"{B}/k?legal-hold&versionId={vid}"))
        assert hold["Status"] == status
        head = await client.request("HEAD", f"{B}/k?versionId={vid}")
        assert head.headers["x-amz-object-lock-legal-hold"] == status
    # Written OFF on a PUT: set, so OFF.
    headers = {**_md5(b"x"), "x-amz-object-lock-legal-hold": "OFF"}
    put = await client.request("PUT", f"{B}/off", b"x", headers)
    vid = put.headers["x-amz-version-id"]
    hold = _fields(await client.request("GET", f"{B}/off?legal-hold&versionId={vid}"))
    assert hold["Status"] == "OFF"
