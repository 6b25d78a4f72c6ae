"""Versioned buckets in process (decision 0097): PutBucketVersioning and its refusals, versions
kept by overwrites and deletes, GET and HEAD by version, delete markers, permanent deletes,
ListObjectVersions and its markers, and the null version of a Suspended bucket."""

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
SUSPENDED = b"<VersioningConfiguration><Status>Suspended</Status></VersioningConfiguration>"


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    async with in_process_client(tmp_path) as made:
        assert (await made.request("PUT", B)).status == 200
        yield made


async def _enable(client: Client, body: bytes = ENABLED) -> None:
    reply = await client.request("PUT", f"{B}?versioning", body)
    assert reply.status == 200, reply.body


def _entries(reply: Reply) -> tuple[dict[str, str], list[tuple[str, dict[str, str]]]]:
    assert reply.status == 200, reply.body
    root = ElementTree.fromstring(reply.body)
    fields: dict[str, str] = {}
    entries: list[tuple[str, dict[str, str]]] = []
    for child in root:
        name = child.tag.split("}")[-1]
        if name in ("Version", "DeleteMarker"):
            entries.append((name, {item.tag.split("}")[-1]: item.text or "" for item in child}))
        else:
            fields[name] = child.text or ""
    return fields, entries


async def _status(client: Client) -> str | None:
    root = ElementTree.fromstring((await client.request("GET", f"{B}?versioning")).body)
    found = [c.text for c in root if c.tag.endswith("Status")]
    return found[0] if found else None


async def test_versioning_is_enabled_and_suspended_never_undone(client: Client) -> None:
    assert await _status(client) is None
    await _enable(client)
    assert await _status(client) == "Enabled"
    await _enable(client, SUSPENDED)
    assert await _status(client) == "Suspended"
    await _enable(client)
    assert await _status(client) == "Enabled"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (
            b"<VersioningConfiguration><Status>Disabled</Status></VersioningConfiguration>",
            400,
            "MalformedXML",
        ),
        (b"<VersioningConfiguration/>", 400, "MalformedXML"),
        (b"<VersioningConfiguration><Status>Enabled", 400, "MalformedXML"),
        (b"<Other><Status>Enabled</Status></Other>", 400, "MalformedXML"),
        (
            b"<VersioningConfiguration><Status>Enabled</Status><MfaDelete>Enabled</MfaDelete>"
            b"</VersioningConfiguration>",
            501,
            "NotImplemented",
        ),
    ],
)
async def test_bad_configurations_are_refused(
    client: Client, body: bytes, status: int, code: str
) -> None:
    reply = await client.request("PUT", f"{B}?versioning", body)
    assert (reply.status, reply.error_code()) == (status, code)
    assert await _status(client) is None  # nothing taken
    # MfaDelete Disabled is the truth here: accepted.
    await _enable(
        client,
        b"<VersioningConfiguration><Status>Enabled</Status><MfaDelete>Disabled</MfaDelete>"
        b"</VersioningConfiguration>",
    )


async def test_overwrites_and_deletes_keep_every_version(client: Client) -> None:
    await _enable(client)
    first = await client.request("PUT", f"{B}/k", b"one")
    second = await client.request("PUT", f"{B}/k", b"two")
    v1, v2 = first.headers["x-amz-version-id"], second.headers["x-amz-version-id"]
    assert v1 != v2 and len(v1) == 38
    current = await client.request("GET", f"{B}/k")
    assert current.body == b"two" and current.headers["x-amz-version-id"] == v2
    old = await client.request("GET", f"{B}/k?versionId={v1}")
    assert old.body == b"one" and old.headers["x-amz-version-id"] == v1
    head = await client.request("HEAD", f"{B}/k?versionId={v1}")
    assert head.status == 200 and head.headers["content-length"] == "3"

    deleted = await client.request("DELETE", f"{B}/k")
    assert deleted.status == 204 and deleted.headers["x-amz-delete-marker"] == "true"
    marker = deleted.headers["x-amz-version-id"]
    gone = await client.request("GET", f"{B}/k")
    assert (gone.status, gone.error_code()) == (404, "NoSuchKey")
    assert gone.headers["x-amz-delete-marker"] == "true"
    assert gone.headers["x-amz-version-id"] == marker
    by_marker = await client.request("GET", f"{B}/k?versionId={marker}")
    assert (by_marker.status, by_marker.error_code()) == (405, "MethodNotAllowed")
    assert by_marker.headers["x-amz-delete-marker"] == "true"
    listed = await client.request("GET", f"{B}?list-type=2")
    assert b"<Key>k</Key>" not in listed.body

    _, entries = _entries(await client.request("GET", f"{B}?versions"))
    assert [(kind, e["VersionId"], e["IsLatest"]) for kind, e in entries] == [
        ("DeleteMarker", marker, "true"),
        ("Version", v2, "false"),
        ("Version", v1, "false"),
    ]

    # Deleting the marker brings the object back.
    undeleted = await client.request("DELETE", f"{B}/k?versionId={marker}")
    assert undeleted.headers["x-amz-delete-marker"] == "true"
    assert (await client.request("GET", f"{B}/k")).body == b"two"
    # Deleting a version removes it for good; the next one becomes current.
    removed = await client.request("DELETE", f"{B}/k?versionId={v2}")
    assert removed.status == 204 and removed.headers["x-amz-version-id"] == v2
    assert "x-amz-delete-marker" not in removed.headers
    assert (await client.request("GET", f"{B}/k")).body == b"one"
    missing = await client.request("GET", f"{B}/k?versionId={v2}")
    assert (missing.status, missing.error_code()) == (404, "NoSuchVersion")
    bad = await client.request("GET", f"{B}/k?versionId=not-an-id")
    assert (bad.status, bad.error_code()) == (400, "InvalidArgument")
    # Other object calls refuse a version id rather than act on the current version.
    put = await client.request("PUT", f"{B}/k?versionId={v1}", b"three")
    assert (put.status, put.error_code()) == (400, "InvalidArgument")


async def test_a_versioned_bucket_is_empty_only_without_versions(client: Client) -> None:
    await _enable(client)
    put = await client.request("PUT", f"{B}/k", b"x")
    marker = (await client.request("DELETE", f"{B}/k")).headers["x-amz-version-id"]
    refused = await client.request("DELETE", B)
    assert (refused.status, refused.error_code()) == (409, "BucketNotEmpty")
    for version in (put.headers["x-amz-version-id"], marker):
        assert (await client.request("DELETE", f"{B}/k?versionId={version}")).status == 204
    assert (await client.request("DELETE", B)).status == 204


async def test_listing_pages_by_key_and_version_markers(client: Client) -> None:
    await _enable(client)
    made: list[tuple[str, str]] = []
    for key in ("a", "b", "a", "c", "a"):
        reply = await client.request("PUT", f"{B}/{key}", key.encode())
        made.append((key, reply.headers["x-amz-version-id"]))
    expected = sorted(made, key=lambda kv: (kv[0], -made.index(kv)))
    seen: list[tuple[str, str]] = []
    query = f"{B}?versions&max-keys=2"
    while True:
        fields, entries = _entries(await client.request("GET", query))
        seen.extend((e["Key"], e["VersionId"]) for _, e in entries)
        if fields["IsTruncated"] == "false":
            break
        query = (
            f"{B}?versions&max-keys=2&key-marker={fields['NextKeyMarker']}"
            f"&version-id-marker={fields['NextVersionIdMarker']}"
        )
    assert seen == expected
    latest = [e["IsLatest"] for _, e in _entries(await client.request("GET", f"{B}?versions"))[1]]
    assert latest == ["true", "false", "false", "true", "true"]


async def test_suspended_buckets_replace_the_null_version(client: Client) -> None:
    before = await client.request("PUT", f"{B}/k", b"before")  # the null version
    assert "x-amz-version-id" not in before.headers
    await _enable(client)
    kept = (await client.request("PUT", f"{B}/k", b"kept")).headers["x-amz-version-id"]
    null = await client.request("GET", f"{B}/k?versionId=null")
    assert null.body == b"before"
    await _enable(client, SUSPENDED)
    put = await client.request("PUT", f"{B}/k", b"after")
    assert put.headers["x-amz-version-id"] == "null"
    again = await client.request("PUT", f"{B}/k", b"again")
    assert again.headers["x-amz-version-id"] == "null"
    _, entries = _entries(await client.request("GET", f"{B}?versions"))
    assert [(e["VersionId"], e["IsLatest"]) for _, e in entries] == [
        ("null", "true"),
        (kept, "false"),
    ]
    assert (await client.request("GET", f"{B}/k?versionId=null")).body == b"again"
    deleted = await client.request("DELETE", f"{B}/k")
    assert deleted.headers["x-amz-version-id"] == "null"
    assert deleted.headers["x-amz-delete-marker"] == "true"
    _, entries = _entries(await client.request("GET", f"{B}?versions"))
    assert [(kind, e["VersionId"]) for kind, e in entries] == [
        ("DeleteMarker", "null"),
        ("Version", kept),
    ]
    assert (await client.request("GET", f"{B}/k?versionId={kept}")).body == b"kept"


async def test_delete_objects_makes_markers_in_a_versioned_bucket(client: Client) -> None:
    await _enable(client)
    version = (await client.request("PUT", f"{B}/k", b"x")).headers["x-amz-version-id"]
    body = b"<Delete><Object><Key>k</Key></Object></Delete>"
    import base64
    import hashlib

    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()  # noqa: S324 - Content-MD5
    reply = await client.request("POST", f"{B}?delete", body, {"content-md5": md5})
    assert reply.status == 200, reply.body
    assert (await client.request("GET", f"{B}/k")).status == 404
    assert (await client.request("GET", f"{B}/k?versionId={version}")).body == b"x"


async def _user(client: Client, name: str, *actions: str) -> Client:
    """An IAM user of the bucket's tenant allowed ``actions`` on the bucket's objects only."""
    user = await client.iam_user(name)
    assert client.identity is not None
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": list(actions), "Resource": "arn:aws:s3:::versioned/*"}
        ],
    }
    await client.identity.put_user_policy(client.tenant_id, name, "p", json.dumps(document))
    return user


async def test_a_version_is_read_and_destroyed_only_with_the_version_actions(
    client: Client,
) -> None:
    # AWS: with a versionId, GET and HEAD need s3:GetObjectVersion (s3:GetObject is not
    # required), DELETE needs s3:DeleteObjectVersion. The right to read or delete the current
    # object is not the right to read or destroy its history.
    await _enable(client)
    first = (await client.request("PUT", f"{B}/doc", b"first")).headers["x-amz-version-id"]
    assert (await client.request("PUT", f"{B}/doc", b"second")).status == 200
    current = await _user(client, "current", "s3:GetObject", "s3:DeleteObject")
    history = await _user(client, "history", "s3:GetObjectVersion", "s3:DeleteObjectVersion")
    assert (await current.request("GET", f"{B}/doc")).body == b"second"
    for method in ("GET", "HEAD", "DELETE"):
        denied = await current.request(method, f"{B}/doc?versionId={first}")
        assert denied.status == 403, (method, denied.body)
    assert (await history.request("GET", f"{B}/doc")).status == 403
    assert (await history.request("GET", f"{B}/doc?versionId={first}")).body == b"first"
    assert (await history.request("HEAD", f"{B}/doc?versionId={first}")).status == 200
    # The refused DELETE destroyed nothing; the allowed one does.
    assert (await client.request("GET", f"{B}/doc?versionId={first}")).body == b"first"
    assert (await history.request("DELETE", f"{B}/doc?versionId={first}")).status == 204
    assert (await client.request("GET", f"{B}/doc?versionId={first}")).status == 404
    # A plain DELETE only makes a delete marker: s3:DeleteObject is enough for it.
    assert (await current.request("DELETE", f"{B}/doc")).status == 204


async def test_a_policy_may_condition_a_version_on_its_id(client: Client) -> None:
    await _enable(client)
    first = (await client.request("PUT", f"{B}/doc", b"first")).headers["x-amz-version-id"]
    second = (await client.request("PUT", f"{B}/doc", b"second")).headers["x-amz-version-id"]
    user = await client.iam_user("pinned")
    assert client.identity is not None
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "s3:GetObjectVersion",
                "Resource": "arn:aws:s3:::versioned/*",
                "Condition": {"StringEquals": {"s3:versionid": first}},
            }
        ],
    }
    await client.identity.put_user_policy(client.tenant_id, "pinned", "p", json.dumps(document))
    assert (await user.request("GET", f"{B}/doc?versionId={first}")).body == b"first"
    assert (await user.request("GET", f"{B}/doc?versionId={second}")).status == 403


def _delete_body(*entries: tuple[str, str | None]) -> tuple[bytes, dict[str, str]]:
    objects = "".join(
        f"<Object><Key>{key}</Key>"
        + (f"<VersionId>{version}</VersionId>" if version is not None else "")
        + "</Object>"
        for key, version in entries
    )
    body = f"<Delete>{objects}</Delete>".encode()
    digest = hashlib.md5(body, usedforsecurity=False).digest()
    return body, {"Content-MD5": base64.b64encode(digest).decode()}


async def test_delete_objects_removes_named_versions_and_marks_the_others(
    client: Client,
) -> None:
    # What boto3's bucket.object_versions.delete() and Terraform's force_destroy send.
    await _enable(client)
    first = (await client.request("PUT", f"{B}/a", b"1")).headers["x-amz-version-id"]
    second = (await client.request("PUT", f"{B}/a", b"2")).headers["x-amz-version-id"]
    assert (await client.request("PUT", f"{B}/b", b"b")).status == 200
    body, headers = _delete_body(("a", first), ("b", None), ("c", "not-a-version-id"))
    reply = await client.request("POST", f"{B}?delete", body, headers)
    assert reply.status == 200, reply.body
    root = ElementTree.fromstring(reply.body)
    answered = {
        (child.tag.split("}")[-1], child.findtext("{*}Key")): {
            item.tag.split("}")[-1]: item.text for item in child
        }
        for child in root
    }
    assert answered[("Deleted", "a")] == {"Key": "a", "VersionId": first}
    marker = answered[("Deleted", "b")]
    assert marker["DeleteMarker"] == "true" and marker["DeleteMarkerVersionId"]
    assert answered[("Error", "c")]["Code"] == "InvalidArgument"
    assert (await client.request("GET", f"{B}/a?versionId={first}")).status == 404
    assert (await client.request("GET", f"{B}/a")).body == b"2"
    assert (await client.request("GET", f"{B}/b")).status == 404
    # Removing the marker by its version id brings b back, and says it was a marker.
    body, headers = _delete_body(("b", marker["DeleteMarkerVersionId"]), ("a", second))
    reply = await client.request("POST", f"{B}?delete", body, headers)
    assert b"<DeleteMarker>true</DeleteMarker>" in reply.body, reply.body
    assert (await client.request("GET", f"{B}/b")).body == b"b"
    assert (await client.request("GET", f"{B}/a")).status == 404


async def test_delete_objects_needs_the_version_action_for_a_named_version(
    client: Client,
) -> None:
    await _enable(client)
    first = (await client.request("PUT", f"{B}/a", b"1")).headers["x-amz-version-id"]
    current = await _user(client, "current", "s3:DeleteObject")
    body, headers = _delete_body(("a", first))
    assert (await current.request("POST", f"{B}?delete", body, headers)).status == 403
    assert (await client.request("GET", f"{B}/a?versionId={first}")).body == b"1"
    history = await _user(client, "history", "s3:DeleteObjectVersion")
    reply = await history.request("POST", f"{B}?delete", body, headers)
    assert reply.status == 200 and b"<Deleted>" in reply.body, reply.body
    assert (await client.request("GET", f"{B}/a?versionId={first}")).status == 404


async def _multipart(client: Client, key: str, body: bytes) -> Reply:
    started = await client.request("POST", f"{B}/{key}?uploads")
    upload = ElementTree.fromstring(started.body).findtext("{*}UploadId")
    part = await client.request("PUT", f"{B}/{key}?partNumber=1&uploadId={upload}", body)
    etag = part.headers["etag"]
    completion = (
        f"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{etag}</ETag></Part>"
        "</CompleteMultipartUpload>"
    )
    return await client.request("POST", f"{B}/{key}?uploadId={upload}", completion.encode())


async def test_a_completed_upload_answers_its_version_id(client: Client) -> None:
    """CompleteMultipartUpload answers ``x-amz-version-id`` as PutObject does (boto3 reads
    ``VersionId`` from it); a bucket never versioned answers none."""
    plain = await _multipart(client, "k", b"plain")
    assert plain.status == 200, plain.body
    assert "x-amz-version-id" not in plain.headers
    await _enable(client)
    done = await _multipart(client, "k", b"versioned")
    assert done.status == 200, done.body
    version = done.headers["x-amz-version-id"]
    assert version != "null"
    assert (await client.request("GET", f"{B}/k?versionId={version}")).body == b"versioned"
    await _enable(client, SUSPENDED)
    suspended = await _multipart(client, "k", b"suspended")
    assert suspended.headers["x-amz-version-id"] == "null"


async def test_a_conditional_delete_marks_only_the_object_it_was_checked_on(
    client: Client,
) -> None:
    """If-Match on DELETE in a versioned bucket (AWS: evaluated on the current version): 412
    when the ETag differs, 404 NoSuchKey when a delete marker is current, a marker over the
    object when it holds; with a versionId it is still refused, never dropped."""
    await _enable(client)
    put = await client.request("PUT", f"{B}/k", b"one")
    version, etag = put.headers["x-amz-version-id"], put.headers["etag"]
    wrong = await client.request("DELETE", f"{B}/k", headers={"If-Match": '"0" '})
    assert (wrong.status, wrong.error_code()) == (412, "PreconditionFailed")
    named = await client.request("DELETE", f"{B}/k?versionId={version}", headers={"If-Match": "*"})
    assert (named.status, named.error_code()) == (501, "NotImplemented")
    assert (await client.request("GET", f"{B}/k")).body == b"one"  # nothing was deleted
    deleted = await client.request("DELETE", f"{B}/k", headers={"If-Match": etag})
    assert deleted.status == 204, deleted.body
    assert deleted.headers["x-amz-delete-marker"] == "true"
    # The object is kept as a noncurrent version under the marker.
    assert (await client.request("GET", f"{B}/k?versionId={version}")).body == b"one"
    for condition in ("*", etag):
        again = await client.request("DELETE", f"{B}/k", headers={"If-Match": condition})
        assert (again.status, again.error_code()) == (404, "NoSuchKey")
    _, entries = _entries(await client.request("GET", f"{B}?versions"))
    assert [kind for kind, _ in entries] == ["DeleteMarker", "Version"]  # no second marker


async def test_delete_objects_with_an_etag_marks_only_the_object_checked(client: Client) -> None:
    await _enable(client)
    put = await client.request("PUT", f"{B}/a", b"1")
    version, etag = put.headers["x-amz-version-id"], put.headers["etag"].strip('"')
    assert (await client.request("PUT", f"{B}/b", b"2")).status == 200
    body = (
        f"<Delete><Object><Key>a</Key><ETag>{etag}</ETag></Object>"
        "<Object><Key>b</Key><ETag>0123</ETag></Object>"
        f"<Object><Key>a</Key><VersionId>{version}</VersionId><ETag>{etag}</ETag></Object>"
        "</Delete>"
    ).encode()
    digest = base64.b64encode(hashlib.md5(body, usedforsecurity=False).digest()).decode()
    reply = await client.request("POST", f"{B}?delete", body, {"Content-MD5": digest})
    assert reply.status == 200, reply.body
    text = reply.body.decode()
    assert "<DeleteMarker>true</DeleteMarker>" in text
    assert "<Code>PreconditionFailed</Code>" in text and "<Code>NotImplemented</Code>" in text
    assert (await client.request("GET", f"{B}/a")).status == 404  # under a marker
    assert (await client.request("GET", f"{B}/a?versionId={version}")).body == b"1"
    assert (await client.request("GET", f"{B}/b")).body == b"2"
