"""One version addressed (decision 0099). Tagging, ACL and attributes take ``versionId``,
act on that version whether current or not, answer ``x-amz-version-id``, refuse a delete
marker with 405 MethodNotAllowed, and the ACL grants of the version named are the ones that
count. CopyObject and UploadPartCopy read the version ``x-amz-copy-source`` names."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import defusedxml.ElementTree as ElementTree
import pytest

from support.s3app import Client, Reply, in_process_client

B = "/versioned"
ENABLED = b"<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>"
NO_BLOCK = (
    b"<PublicAccessBlockConfiguration><BlockPublicAcls>false</BlockPublicAcls>"
    b"<IgnorePublicAcls>false</IgnorePublicAcls><BlockPublicPolicy>false</BlockPublicPolicy>"
    b"<RestrictPublicBuckets>false</RestrictPublicBuckets></PublicAccessBlockConfiguration>"
)
OWNERSHIP = (
    b"<OwnershipControls><Rule><ObjectOwnership>ObjectWriter</ObjectOwnership></Rule>"
    b"</OwnershipControls>"
)


def _md5(body: bytes) -> dict[str, str]:
    digest = hashlib.md5(body, usedforsecurity=False).digest()
    return {"Content-MD5": base64.b64encode(digest).decode()}


def _tagging(**tags: str) -> bytes:
    inner = "".join(f"<Tag><Key>{k}</Key><Value>{v}</Value></Tag>" for k, v in tags.items())
    return f"<Tagging><TagSet>{inner}</TagSet></Tagging>".encode()


def _tags(reply: Reply) -> dict[str, str]:
    assert reply.status == 200, reply.body
    root = ElementTree.fromstring(reply.body)
    found: dict[str, str] = {}
    for tag in root.iter():
        if tag.tag.endswith("}Tag") or tag.tag == "Tag":
            fields = {c.tag.split("}")[-1]: c.text or "" for c in tag}
            found[fields["Key"]] = fields["Value"]
    return found


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    async with in_process_client(tmp_path, allow_insecure_sse=True) as made:
        assert (await made.request("PUT", B)).status == 200
        assert (await made.request("PUT", f"{B}?versioning", ENABLED)).status == 200
        yield made


async def _put(client: Client, key: str, body: bytes, **headers: str) -> str:
    reply = await client.request("PUT", f"{B}/{key}", body, headers)
    assert reply.status == 200, reply.body
    return reply.headers["x-amz-version-id"]


async def test_tags_of_a_noncurrent_version_are_its_own(client: Client) -> None:
    old = await _put(client, "k", b"one", **{"x-amz-tagging": "gen=1"})
    new = await _put(client, "k", b"two", **{"x-amz-tagging": "gen=2"})
    body = _tagging(gen="one", kept="yes")
    put = await client.request("PUT", f"{B}/k?tagging&versionId={old}", body, _md5(body))
    assert put.status == 200, put.body
    assert put.headers["x-amz-version-id"] == old
    got = await client.request("GET", f"{B}/k?tagging&versionId={old}")
    assert _tags(got) == {"gen": "one", "kept": "yes"}
    assert got.headers["x-amz-version-id"] == old
    # The current version kept its tags, and is answered as itself.
    current = await client.request("GET", f"{B}/k?tagging")
    assert _tags(current) == {"gen": "2"} and current.headers["x-amz-version-id"] == new
    by_id = await client.request("GET", f"{B}/k?tagging&versionId={new}")
    assert _tags(by_id) == {"gen": "2"}
    # The bytes of the old version are unchanged, and so is its ETag.
    assert (await client.request("GET", f"{B}/k?versionId={old}")).body == b"one"
    removed = await client.request("DELETE", f"{B}/k?tagging&versionId={old}")
    assert removed.status == 204 and removed.headers["x-amz-version-id"] == old
    assert _tags(await client.request("GET", f"{B}/k?tagging&versionId={old}")) == {}
    assert _tags(await client.request("GET", f"{B}/k?tagging")) == {"gen": "2"}
    # Tagging the current version by its id changes what GET of the key answers.
    body = _tagging(gen="two")
    assert (
        await client.request("PUT", f"{B}/k?tagging&versionId={new}", body, _md5(body))
    ).status == 200
    assert _tags(await client.request("GET", f"{B}/k?tagging")) == {"gen": "two"}


async def test_a_delete_marker_has_no_tags_acl_or_attributes(client: Client) -> None:
    await _put(client, "k", b"one")
    marker = (await client.request("DELETE", f"{B}/k")).headers["x-amz-version-id"]
    body = _tagging(a="b")
    calls = [
        ("GET", f"{B}/k?tagging&versionId={marker}", b"", {}, "GET"),
        ("PUT", f"{B}/k?tagging&versionId={marker}", body, _md5(body), "PUT"),
        ("DELETE", f"{B}/k?tagging&versionId={marker}", b"", {}, "DELETE"),
        ("GET", f"{B}/k?acl&versionId={marker}", b"", {}, "GET"),
        ("PUT", f"{B}/k?acl&versionId={marker}", b"", {"x-amz-acl": "private"}, "PUT"),
        (
            "GET",
            f"{B}/k?attributes&versionId={marker}",
            b"",
            {"x-amz-object-attributes": "ETag"},
            "GET",
        ),
    ]
    for method, path, payload, headers, shown in calls:
        reply = await client.request(method, path, payload, headers)
        assert (reply.status, reply.error_code()) == (405, "MethodNotAllowed"), path
        assert reply.headers["x-amz-delete-marker"] == "true"
        assert reply.headers["x-amz-version-id"] == marker
        assert reply.headers["allow"] == "DELETE"
        assert f"<Method>{shown}</Method>".encode() in reply.body
    # Without a version id, the current delete marker is a missing key, with its headers.
    for path in (f"{B}/k?tagging", f"{B}/k?acl"):
        reply = await client.request("GET", path)
        assert (reply.status, reply.error_code()) == (404, "NoSuchKey"), path
        assert reply.headers["x-amz-delete-marker"] == "true"
    reply = await client.request("PUT", f"{B}/k?tagging", body, _md5(body))
    assert (reply.status, reply.error_code()) == (404, "NoSuchKey")
    assert reply.headers["x-amz-version-id"] == marker


async def test_unknown_and_malformed_version_ids(client: Client) -> None:
    version = await _put(client, "k", b"one")
    assert (await client.request("DELETE", f"{B}/k?versionId={version}")).status == 204
    for path in (f"{B}/k?tagging", f"{B}/k?acl"):
        missing = await client.request("GET", f"{path}&versionId={version}")
        assert (missing.status, missing.error_code()) == (404, "NoSuchVersion"), path
        bad = await client.request("GET", f"{path}&versionId=nope")
        assert (bad.status, bad.error_code()) == (400, "InvalidArgument"), path


async def test_attributes_of_a_version(client: Client) -> None:
    old = await _put(client, "k", b"first version")
    new = await _put(client, "k", b"2nd")
    wanted = {"x-amz-object-attributes": "ObjectSize,ETag"}
    reply = await client.request("GET", f"{B}/k?attributes&versionId={old}", headers=wanted)
    assert reply.status == 200, reply.body
    assert b"<ObjectSize>13</ObjectSize>" in reply.body
    assert reply.headers["x-amz-version-id"] == old
    current = await client.request("GET", f"{B}/k?attributes", headers=wanted)
    assert b"<ObjectSize>3</ObjectSize>" in current.body
    assert current.headers["x-amz-version-id"] == new


async def test_acl_of_a_version_is_its_own_and_grants_only_it(client: Client) -> None:
    assert (
        await client.request("PUT", f"{B}?ownershipControls", OWNERSHIP, _md5(OWNERSHIP))
    ).status == 200
    assert (
        await client.request("PUT", f"{B}?publicAccessBlock", NO_BLOCK, _md5(NO_BLOCK))
    ).status == 200
    old = await _put(client, "k", b"public once")
    new = await _put(client, "k", b"private now")
    anonymous = client.as_anonymous()
    granted = await client.request(
        "PUT", f"{B}/k?acl&versionId={old}", headers={"x-amz-acl": "public-read"}
    )
    assert granted.status == 200, granted.body
    acl = await client.request("GET", f"{B}/k?acl&versionId={old}")
    assert b"AllUsers" in acl.body
    assert b"AllUsers" not in (await client.request("GET", f"{B}/k?acl")).body
    # The grant is read from the version named: the old one is public, the current is not.
    read = await anonymous.request("GET", f"{B}/k?versionId={old}", sign=False)
    assert read.status == 200 and read.body == b"public once"
    assert (await anonymous.request("GET", f"{B}/k?versionId={new}", sign=False)).status == 403
    assert (await anonymous.request("GET", f"{B}/k", sign=False)).status == 403


def _sse_c(key: bytes, prefix: str = "x-amz-server-side-encryption-customer-") -> dict[str, str]:
    return {
        prefix + "algorithm": "AES256",
        prefix + "key": base64.b64encode(key).decode(),
        prefix + "key-MD5": base64.b64encode(
            hashlib.md5(key, usedforsecurity=False).digest()
        ).decode(),
    }


async def test_copy_reads_the_version_named(client: Client) -> None:
    old = await _put(client, "k", b"old bytes", **{"x-amz-tagging": "gen=1"})
    new = await _put(client, "k", b"new bytes")
    copied = await client.request(
        "PUT", f"{B}/restored", headers={"x-amz-copy-source": f"{B}/k?versionId={old}"}
    )
    assert copied.status == 200, copied.body
    assert copied.headers["x-amz-copy-source-version-id"] == old
    made = copied.headers["x-amz-version-id"]
    assert made not in (old, new)
    got = await client.request("GET", f"{B}/restored")
    assert got.body == b"old bytes" and got.headers["x-amz-version-id"] == made
    assert _tags(await client.request("GET", f"{B}/restored?tagging")) == {"gen": "1"}
    # Without a version id, the current one, named in the answer.
    current = await client.request("PUT", f"{B}/c", headers={"x-amz-copy-source": f"{B}/k"})
    assert current.headers["x-amz-copy-source-version-id"] == new
    # Restoring an old version onto its own key makes it the newest version.
    restored = await client.request(
        "PUT", f"{B}/k", headers={"x-amz-copy-source": f"{B}/k?versionId={old}"}
    )
    assert restored.status == 200, restored.body
    assert (await client.request("GET", f"{B}/k")).body == b"old bytes"
    assert (await client.request("GET", f"{B}/k?versionId={new}")).body == b"new bytes"


async def test_copy_refuses_a_delete_marker_and_unknown_versions(client: Client) -> None:
    old = await _put(client, "k", b"bytes")
    marker = (await client.request("DELETE", f"{B}/k")).headers["x-amz-version-id"]
    cases = [
        (f"{B}/k?versionId={marker}", 400, "InvalidRequest"),
        (f"{B}/k", 404, "NoSuchKey"),
        (f"{B}/k?versionId=bad-id", 400, "InvalidArgument"),
    ]
    for source, status, code in cases:
        reply = await client.request("PUT", f"{B}/dst", headers={"x-amz-copy-source": source})
        assert (reply.status, reply.error_code()) == (status, code), source
    assert (await client.request("DELETE", f"{B}/k?versionId={old}")).status == 204
    gone = await client.request(
        "PUT", f"{B}/dst", headers={"x-amz-copy-source": f"{B}/k?versionId={old}"}
    )
    assert (gone.status, gone.error_code()) == (404, "NoSuchVersion")
    assert (await client.request("GET", f"{B}/dst")).status == 404


async def test_upload_part_copy_and_encrypted_sources_by_version(client: Client) -> None:
    key = bytes(range(32))
    old = await _put(client, "secret", b"customer bytes v1", **_sse_c(key))
    await _put(client, "secret", b"customer bytes v2", **_sse_c(key))
    source = {"x-amz-copy-source": f"{B}/secret?versionId={old}"}
    # An SSE-C version needs its key to be read, and is written anew under SSE-S3.
    refused = await client.request("PUT", f"{B}/plain", headers=source)
    assert refused.status == 400, refused.body
    copy_key = _sse_c(key, "x-amz-copy-source-server-side-encryption-customer-")
    copied = await client.request("PUT", f"{B}/plain", headers={**source, **copy_key})
    assert copied.status == 200, copied.body
    assert (await client.request("GET", f"{B}/plain")).body == b"customer bytes v1"
    created = await client.request("POST", f"{B}/multi?uploads")
    upload = created.body.split(b"<UploadId>")[1].split(b"<")[0].decode()
    part = await client.request(
        "PUT",
        f"{B}/multi?partNumber=1&uploadId={upload}",
        headers={**source, **copy_key, "x-amz-copy-source-range": "bytes=0-7"},
    )
    assert part.status == 200, part.body
    assert part.headers["x-amz-copy-source-version-id"] == old
    etag = part.body.split(b"<ETag>")[1].split(b"</ETag>")[0].decode().replace("&quot;", '"')
    done = (
        f"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{etag}</ETag></Part>"
        "</CompleteMultipartUpload>"
    ).encode()
    assert (await client.request("POST", f"{B}/multi?uploadId={upload}", done)).status == 200
    assert (await client.request("GET", f"{B}/multi")).body == b"customer"


async def test_a_version_copy_needs_get_object_version(client: Client) -> None:
    old = await _put(client, "k", b"old")
    await _put(client, "k", b"new")
    user = await client.iam_user("current-only")
    assert client.identity is not None
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject"],
                "Resource": "arn:aws:s3:::versioned/*",
            }
        ],
    }
    await client.identity.put_user_policy(
        client.tenant_id, "current-only", "p", json.dumps(document)
    )
    assert (
        await user.request("PUT", f"{B}/a", headers={"x-amz-copy-source": f"{B}/k"})
    ).status == 200
    denied = await user.request(
        "PUT", f"{B}/b", headers={"x-amz-copy-source": f"{B}/k?versionId={old}"}
    )
    assert (denied.status, denied.error_code()) == (403, "AccessDenied")
