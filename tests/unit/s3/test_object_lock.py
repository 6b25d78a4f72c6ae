"""S3 Object Lock in process (decision 0102): the bucket's configuration, lock headers on
writes and reads, Get/PutObjectRetention and Get/PutObjectLegalHold, and what a lock
forbids (deletes by version id, DeleteObjects, shortening a COMPLIANCE retention, suspending
versioning, deleting the bucket)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import defusedxml.ElementTree as ElementTree
import pytest

from support.s3app import Client, Reply, in_process_client

B = "/locked"


def _md5(body: bytes) -> dict[str, str]:
    return {
        "Content-MD5": base64.b64encode(hashlib.md5(body, usedforsecurity=False).digest()).decode()
    }


def _date(days: float) -> str:
    moment = datetime.now(UTC) + timedelta(days=days)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _fields(reply: Reply) -> dict[str, str]:
    assert reply.status == 200, reply.body
    root = ElementTree.fromstring(reply.body)
    found: dict[str, str] = {}
    for element in root.iter():
        found[element.tag.split("}")[-1]] = element.text or ""
    return found


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    async with in_process_client(tmp_path) as made:
        reply = await made.request("PUT", B, headers={"x-amz-bucket-object-lock-enabled": "true"})
        assert reply.status == 200, reply.body
        yield made


async def _put(client: Client, key: str, headers: dict[str, str] | None = None) -> str:
    body = b"kept"
    reply = await client.request("PUT", f"{B}/{key}", body, {**_md5(body), **(headers or {})})
    assert reply.status == 200, reply.body
    return reply.headers["x-amz-version-id"]


def _retention(mode: str, until: str) -> bytes:
    return (
        f"<Retention><Mode>{mode}</Mode><RetainUntilDate>{until}</RetainUntilDate></Retention>"
    ).encode()


async def _put_retention(
    client: Client, key: str, vid: str, body: bytes, headers: dict[str, str] | None = None
) -> Reply:
    return await client.request(
        "PUT", f"{B}/{key}?retention&versionId={vid}", body, {**_md5(body), **(headers or {})}
    )


async def _hold(client: Client, key: str, vid: str, status: str) -> Reply:
    body = f"<LegalHold><Status>{status}</Status></LegalHold>".encode()
    return await client.request("PUT", f"{B}/{key}?legal-hold&versionId={vid}", body, _md5(body))


async def test_a_bucket_made_with_object_lock_is_versioned_for_good(client: Client) -> None:
    assert _fields(await client.request("GET", f"{B}?versioning"))["Status"] == "Enabled"
    config = _fields(await client.request("GET", f"{B}?object-lock"))
    assert config["ObjectLockEnabled"] == "Enabled" and "Rule" not in config
    body = b"<VersioningConfiguration><Status>Suspended</Status></VersioningConfiguration>"
    reply = await client.request("PUT", f"{B}?versioning", body)
    assert (reply.status, reply.error_code()) == (409, "InvalidBucketState")
    assert _fields(await client.request("GET", f"{B}?versioning"))["Status"] == "Enabled"


async def test_the_configuration_needs_versioning_then_takes_a_default(client: Client) -> None:
    assert (await client.request("PUT", "/plain")).status == 200
    reply = await client.request("GET", "/plain?object-lock")
    assert (reply.status, reply.error_code()) == (404, "ObjectLockConfigurationNotFoundError")
    enabled = b"<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled>"
    body = enabled + b"</ObjectLockConfiguration>"
    reply = await client.request("PUT", "/plain?object-lock", body, _md5(body))
    assert (reply.status, reply.error_code()) == (409, "InvalidBucketState")
    versioning = b"<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>"
    assert (await client.request("PUT", "/plain?versioning", versioning)).status == 200
    rule = (
        enabled + b"<Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>2</Days>"
        b"</DefaultRetention></Rule></ObjectLockConfiguration>"
    )
    reply = await client.request("PUT", "/plain?object-lock", rule)  # no Content-MD5
    assert (reply.status, reply.error_code()) == (400, "InvalidRequest")
    assert (await client.request("PUT", "/plain?object-lock", rule, _md5(rule))).status == 200
    config = _fields(await client.request("GET", "/plain?object-lock"))
    assert (config["Mode"], config["Days"]) == ("GOVERNANCE", "2")
    # Each new version gets the default, counted from its write.
    assert (await client.request("PUT", "/plain/k", b"x")).status == 200
    reply = await client.request("HEAD", "/plain/k")
    assert reply.headers["x-amz-object-lock-mode"] == "GOVERNANCE"
    until = datetime.fromisoformat(reply.headers["x-amz-object-lock-retain-until-date"])
    assert timedelta(days=1.99) < until - datetime.now(UTC) <= timedelta(days=2)


@pytest.mark.parametrize(
    "rule",
    [
        b"<Rule><DefaultRetention><Mode>GOVERNANCE</Mode></DefaultRetention></Rule>",
        b"<Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>1</Days><Years>1</Years>"
        b"</DefaultRetention></Rule>",
        b"<Rule><DefaultRetention><Mode>FOREVER</Mode><Days>1</Days></DefaultRetention></Rule>",
        b"<Rule/>",
    ],
)
async def test_a_malformed_default_retention_is_refused(client: Client, rule: bytes) -> None:
    body = (
        b"<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled>"
        + rule
        + b"</ObjectLockConfiguration>"
    )
    reply = await client.request("PUT", f"{B}?object-lock", body, _md5(body))
    assert (reply.status, reply.error_code()) == (400, "MalformedXML")


@pytest.mark.parametrize(("days", "code"), [("0", "InvalidArgument"), ("36501", "InvalidArgument")])
async def test_a_default_retention_out_of_bounds_is_refused(
    client: Client, days: str, code: str
) -> None:
    body = (
        b"<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule>"
        b"<DefaultRetention><Mode>COMPLIANCE</Mode><Days>" + days.encode() + b"</Days>"
        b"</DefaultRetention></Rule></ObjectLockConfiguration>"
    )
    reply = await client.request("PUT", f"{B}?object-lock", body, _md5(body))
    assert (reply.status, reply.error_code()) == (400, code)


async def test_a_compliance_version_stays_whoever_asks(client: Client) -> None:
    until = _date(1)
    vid = await _put(
        client,
        "k",
        {"x-amz-object-lock-mode": "COMPLIANCE", "x-amz-object-lock-retain-until-date": until},
    )
    head = await client.request("HEAD", f"{B}/k?versionId={vid}")
    assert head.headers["x-amz-object-lock-mode"] == "COMPLIANCE"
    # No hold was ever set: no hold header, and GetObjectLegalHold has none to show (0104).
    assert "x-amz-object-lock-legal-hold" not in head.headers
    reply = await client.request("GET", f"{B}/k?legal-hold&versionId={vid}")
    assert (reply.status, reply.error_code()) == (404, "NoSuchObjectLockConfiguration")
    retention = _fields(await client.request("GET", f"{B}/k?retention&versionId={vid}"))
    assert retention["Mode"] == "COMPLIANCE"
    # The root user, with the bypass header too: 403, and the version is still there.
    for headers in ({}, {"x-amz-bypass-governance-retention": "true"}):
        reply = await client.request("DELETE", f"{B}/k?versionId={vid}", headers=headers)
        assert (reply.status, reply.error_code()) == (403, "AccessDenied")
    assert (await client.request("GET", f"{B}/k?versionId={vid}")).body == b"kept"
    # Shortened, relaxed to GOVERNANCE, removed: refused. Extended: taken.
    for body in (
        _retention("COMPLIANCE", _date(0.5)),
        _retention("GOVERNANCE", _date(2)),
        b"<Retention/>",
    ):
        reply = await _put_retention(
            client, "k", vid, body, {"x-amz-bypass-governance-retention": "true"}
        )
        assert (reply.status, reply.error_code()) == (403, "AccessDenied")
    later = _date(3)
    assert (await _put_retention(client, "k", vid, _retention("COMPLIANCE", later))).status == 200
    retention = _fields(await client.request("GET", f"{B}/k?retention&versionId={vid}"))
    assert retention["RetainUntilDate"][:19] == later[:19]
    # A delete without a version id still makes a delete marker, as on AWS.
    reply = await client.request("DELETE", f"{B}/k")
    assert (reply.status, reply.headers["x-amz-delete-marker"]) == (204, "true")
    assert (await client.request("GET", f"{B}/k?versionId={vid}")).status == 200
    # And the bucket cannot go while it holds the version.
    reply = await client.request("DELETE", B)
    assert (reply.status, reply.error_code()) == (409, "BucketNotEmpty")


async def test_a_governance_version_goes_with_the_bypass(client: Client) -> None:
    vid = await _put(
        client,
        "k",
        {"x-amz-object-lock-mode": "GOVERNANCE", "x-amz-object-lock-retain-until-date": _date(1)},
    )
    reply = await client.request("DELETE", f"{B}/k?versionId={vid}")
    assert (reply.status, reply.error_code()) == (403, "AccessDenied")
    # A user allowed to delete versions but not to bypass: the header does not help.
    user = await client.iam_user("deleter")
    assert client.identity is not None
    await client.identity.put_user_policy(
        client.tenant_id,
        "deleter",
        "delete",
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": ["s3:DeleteObjectVersion", "s3:DeleteObject"],
                        "Resource": "*",
                    }
                ],
            }
        ),
    )
    bypass = {"x-amz-bypass-governance-retention": "true"}
    reply = await user.request("DELETE", f"{B}/k?versionId={vid}", headers=bypass)
    assert (reply.status, reply.error_code()) == (403, "AccessDenied")
    assert (await client.request("HEAD", f"{B}/k?versionId={vid}")).status == 200
    reply = await client.request("DELETE", f"{B}/k?versionId={vid}", headers=bypass)
    assert reply.status == 204
    assert (await client.request("HEAD", f"{B}/k?versionId={vid}")).status == 404


async def test_a_legal_hold_blocks_until_lifted(client: Client) -> None:
    vid = await _put(client, "k", {"x-amz-object-lock-legal-hold": "ON"})
    hold = _fields(await client.request("GET", f"{B}/k?legal-hold&versionId={vid}"))
    assert hold["Status"] == "ON"
    reply = await client.request("GET", f"{B}/k?retention&versionId={vid}")
    assert (reply.status, reply.error_code()) == (404, "NoSuchObjectLockConfiguration")
    bypass = {"x-amz-bypass-governance-retention": "true"}
    reply = await client.request("DELETE", f"{B}/k?versionId={vid}", headers=bypass)
    assert (reply.status, reply.error_code()) == (403, "AccessDenied")
    assert (await _hold(client, "k", vid, "OFF")).status == 200
    assert (await client.request("DELETE", f"{B}/k?versionId={vid}")).status == 204


async def test_delete_objects_reports_a_locked_version(client: Client) -> None:
    locked = await _put(client, "a", {"x-amz-object-lock-legal-hold": "ON"})
    free = await _put(client, "b")
    body = (
        f"<Delete><Object><Key>a</Key><VersionId>{locked}</VersionId></Object>"
        f"<Object><Key>b</Key><VersionId>{free}</VersionId></Object></Delete>"
    ).encode()
    reply = await client.request("POST", f"{B}?delete", body, _md5(body))
    assert reply.status == 200
    root = ElementTree.fromstring(reply.body)
    errors = [e for e in root if e.tag.endswith("Error")]
    deleted = [e for e in root if e.tag.endswith("Deleted")]
    assert len(errors) == 1 and len(deleted) == 1
    assert {c.tag.split("}")[-1]: c.text for c in errors[0]}["Code"] == "AccessDenied"
    assert (await client.request("HEAD", f"{B}/a?versionId={locked}")).status == 200


async def test_lock_headers_are_checked(client: Client) -> None:
    assert (await client.request("PUT", "/plain")).status == 200
    body = b"x"
    hold = {"x-amz-object-lock-legal-hold": "ON"}
    reply = await client.request("PUT", "/plain/k", body, {**_md5(body), **hold})
    assert (reply.status, reply.error_code()) == (400, "InvalidRequest")
    reply = await client.request("PUT", f"{B}/k", body, hold)  # neither Content-MD5 nor checksum
    assert (reply.status, reply.error_code()) == (400, "InvalidRequest")
    for headers in (
        {"x-amz-object-lock-mode": "COMPLIANCE"},
        {"x-amz-object-lock-mode": "COMPLIANCE", "x-amz-object-lock-retain-until-date": _date(-1)},
        {"x-amz-object-lock-mode": "FOREVER", "x-amz-object-lock-retain-until-date": _date(1)},
        {"x-amz-object-lock-legal-hold": "MAYBE"},
    ):
        reply = await client.request("PUT", f"{B}/k", body, {**_md5(body), **headers})
        assert (reply.status, reply.error_code()) == (400, "InvalidArgument"), headers
    # On a multipart upload in a bucket without Object Lock: refused, as on PutObject.
    reply = await client.request("POST", "/plain/k?uploads", headers=hold)
    assert (reply.status, reply.error_code()) == (400, "InvalidRequest")
    # Retention calls in a bucket without Object Lock.
    reply = await client.request("GET", "/plain/k?retention")
    assert (reply.status, reply.error_code()) == (400, "InvalidRequest")


async def test_retention_calls_need_their_permissions(client: Client) -> None:
    vid = await _put(client, "k")
    user = await client.iam_user("nobody")
    for method, query, body in (
        ("GET", "retention", b""),
        ("GET", "legal-hold", b""),
        ("PUT", "retention", _retention("GOVERNANCE", _date(1))),
        ("PUT", "legal-hold", b"<LegalHold><Status>ON</Status></LegalHold>"),
    ):
        reply = await user.request(
            method, f"{B}/k?{query}&versionId={vid}", body, _md5(body) if body else None
        )
        assert (reply.status, reply.error_code()) == (403, "AccessDenied")
    reply = await client.request("GET", f"{B}/k?legal-hold&versionId={vid}")
    assert (reply.status, reply.error_code()) == (404, "NoSuchObjectLockConfiguration")


_LOCK_ON = (
    b"<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled>"
    b"</ObjectLockConfiguration>"
)
_SUSPEND = b"<VersioningConfiguration><Status>Suspended</Status></VersioningConfiguration>"


@pytest.mark.parametrize("held", ["set_bucket_object_lock", "set_bucket_versioning"])
async def test_lock_on_and_suspend_at_once_leave_one_of_them(client: Client, held: str) -> None:
    """Decision 0104, interleaved deterministically: one request has read the bucket
    (Enabled, no lock) and is held before its write while the other runs to its end; when it
    writes, its own check sees the other's write and it answers 409."""
    assert client.store is not None
    enabled = b"<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>"
    assert (await client.request("PUT", "/plain")).status == 200
    assert (await client.request("PUT", "/plain?versioning", enabled)).status == 200
    store = client.store
    write = getattr(store, held)
    reached, release = asyncio.Event(), asyncio.Event()

    async def held_write(*args: object) -> object:
        reached.set()
        await release.wait()
        return await write(*args)

    setattr(store, held, held_write)
    lock_on = ("PUT", "/plain?object-lock", _LOCK_ON, _md5(_LOCK_ON))
    suspend = ("PUT", "/plain?versioning", _SUSPEND, None)
    first, second = (lock_on, suspend) if held == "set_bucket_object_lock" else (suspend, lock_on)
    waiting = asyncio.create_task(client.request(*first))
    await reached.wait()
    setattr(store, held, write)  # the second request writes at once
    assert (await client.request(*second)).status == 200
    release.set()
    reply = await waiting
    assert (reply.status, reply.error_code()) == (409, "InvalidBucketState")
    versioning = _fields(await client.request("GET", "/plain?versioning"))["Status"]
    configured = await client.request("GET", "/plain?object-lock")
    if held == "set_bucket_object_lock":  # the suspend won
        assert versioning == "Suspended" and configured.status == 404
    else:
        assert versioning == "Enabled" and configured.status == 200
