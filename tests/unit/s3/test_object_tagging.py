"""Object tagging in process (decision 0068): the ``x-amz-tagging`` header of PutObject,
CreateMultipartUpload and CopyObject, Get/Put/DeleteObjectTagging, the limits, the
permissions a tag takes, and the condition keys policies test tags with."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import pytest

from support.s3app import Client, Reply, in_process_client

B = "/tagged"
K = f"{B}/report.csv"


@pytest.fixture
async def owner(tmp_path: Path) -> AsyncIterator[Client]:
    async with in_process_client(tmp_path) as client:
        assert (await client.request("PUT", B)).status == 200
        yield client


def tagging_xml(pairs: list[tuple[str, str]]) -> bytes:
    tags = "".join(f"<Tag><Key>{k}</Key><Value>{v}</Value></Tag>" for k, v in pairs)
    return f"<Tagging><TagSet>{tags}</TagSet></Tagging>".encode()


def content_md5(body: bytes) -> dict[str, str]:
    digest = hashlib.md5(body, usedforsecurity=False).digest()
    return {"Content-MD5": base64.b64encode(digest).decode()}


def header(pairs: list[tuple[str, str]]) -> dict[str, str]:
    return {"x-amz-tagging": "&".join(f"{quote(k)}={quote(v)}" for k, v in pairs)}


async def put_tags(client: Client, path: str, pairs: list[tuple[str, str]]) -> Reply:
    body = tagging_xml(pairs)
    return await client.request("PUT", f"{path}?tagging", body, content_md5(body))


async def tags_of(client: Client, path: str) -> list[tuple[str, str]]:
    reply = await client.request("GET", f"{path}?tagging")
    assert reply.status == 200, reply.body
    text = reply.body.decode()
    pairs = []
    for tag in text.split("<Tag>")[1:]:
        key = tag.split("<Key>")[1].split("</Key>")[0]
        value = tag.split("<Value>")[1].split("</Value>")[0]
        pairs.append((key, value))
    return pairs


async def test_tags_given_on_put_are_read_back_in_order_and_counted_on_get_and_head(
    owner: Client,
) -> None:
    tags = [("team", "storage"), ("projet", "données été"), ("empty", "")]
    put = await owner.request("PUT", K, b"a,b\n", header(tags))
    assert put.status == 200
    assert await tags_of(owner, K) == tags
    for method in ("GET", "HEAD"):
        reply = await owner.request(method, K)
        assert reply.headers["x-amz-tagging-count"] == "3"
    untagged = await owner.request("PUT", f"{B}/plain", b"x")
    assert untagged.status == 200
    assert "x-amz-tagging-count" not in (await owner.request("HEAD", f"{B}/plain")).headers
    # No tags is an empty TagSet, not an error (unlike a bucket's NoSuchTagSet).
    reply = await owner.request("GET", f"{B}/plain?tagging")
    assert reply.status == 200 and b"<TagSet></TagSet>" in reply.body.replace(b"<TagSet/>", b"")


async def test_put_object_tagging_replaces_the_set_and_leaves_bytes_etag_and_date(
    owner: Client,
) -> None:
    await owner.request("PUT", K, b"a,b\n", {"x-amz-meta-origin": "ledger", **header([("a", "1")])})
    before = await owner.request("HEAD", K)
    reply = await put_tags(owner, K, [("b", "2"), ("c", "3")])
    assert reply.status == 200
    assert await tags_of(owner, K) == [("b", "2"), ("c", "3")]
    after = await owner.request("GET", K)
    assert after.body == b"a,b\n"
    for name in ("etag", "last-modified", "x-amz-meta-origin"):
        assert after.headers[name] == before.headers[name]
    assert after.headers["x-amz-tagging-count"] == "2"
    deleted = await owner.request("DELETE", f"{K}?tagging")
    assert deleted.status == 204
    assert await tags_of(owner, K) == []
    assert "x-amz-tagging-count" not in (await owner.request("HEAD", K)).headers
    assert (await owner.request("GET", K)).body == b"a,b\n"


async def test_tagging_a_missing_object_or_bucket_is_the_usual_404(owner: Client) -> None:
    for method in ("GET", "DELETE"):
        reply = await owner.request(method, f"{B}/missing?tagging")
        assert (reply.status, reply.error_code()) == (404, "NoSuchKey")
    reply = await put_tags(owner, f"{B}/missing", [("a", "1")])
    assert (reply.status, reply.error_code()) == (404, "NoSuchKey")
    reply = await owner.request("GET", "/no-such-bucket-here/k?tagging")
    assert (reply.status, reply.error_code()) == (404, "NoSuchBucket")


@pytest.mark.parametrize(
    ("pairs", "code"),
    [
        ([(f"k{i}", "v") for i in range(11)], "BadRequest"),  # S3's ten
        ([("aws:owner", "me")], "InvalidTag"),
        ([("k" * 129, "v")], "InvalidTag"),
        ([("k", "v" * 257)], "InvalidTag"),
        ([("semi;colon", "v")], "InvalidTag"),
        ([("", "v")], "InvalidTag"),
    ],
)
async def test_what_s3_refuses_is_refused_on_every_path_and_nothing_changes(
    owner: Client, pairs: list[tuple[str, str]], code: str
) -> None:
    await owner.request("PUT", K, b"kept", header([("kept", "yes")]))
    reply = await put_tags(owner, K, pairs)
    assert (reply.status, reply.error_code()) == (400, code), reply.body
    reply = await owner.request("PUT", K, b"replaced", header(pairs))
    assert (reply.status, reply.error_code()) == (400, code), reply.body
    reply = await owner.request("POST", f"{K}?uploads", b"", header(pairs))
    assert (reply.status, reply.error_code()) == (400, code), reply.body
    assert await tags_of(owner, K) == [("kept", "yes")]
    assert (await owner.request("GET", K)).body == b"kept"


async def test_a_key_twice_is_refused(owner: Client) -> None:
    await owner.request("PUT", K, b"x")
    reply = await owner.request("PUT", K, b"y", {"x-amz-tagging": "a=1&a=2"})
    assert (reply.status, reply.error_code()) == (400, "InvalidArgument")
    reply = await put_tags(owner, K, [("a", "1"), ("a", "2")])
    assert (reply.status, reply.error_code()) == (400, "InvalidTag")
    reply = await owner.request("PUT", K, b"y", {"x-amz-tagging": "a=%FF"})  # not UTF-8
    assert (reply.status, reply.error_code()) == (400, "InvalidArgument")
    assert (await owner.request("GET", K)).body == b"x"


async def test_the_tag_limit_is_a_setting(tmp_path: Path) -> None:
    async with in_process_client(tmp_path, max_object_tags=2) as client:
        await client.request("PUT", B)
        await client.request("PUT", K, b"x")
        assert (await put_tags(client, K, [("a", "1"), ("b", "2")])).status == 200
        reply = await put_tags(client, K, [("a", "1"), ("b", "2"), ("c", "3")])
        assert (reply.status, reply.error_code()) == (400, "BadRequest")
        assert b"cannot be greater than 2" in reply.body


async def test_a_multipart_upload_keeps_the_tags_it_was_created_with(owner: Client) -> None:
    created = await owner.request("POST", f"{K}?uploads", b"", header([("stage", "raw")]))
    upload = created.body.split(b"<UploadId>")[1].split(b"<")[0].decode()
    part = await owner.request("PUT", f"{K}?partNumber=1&uploadId={upload}", b"only part")
    etag = part.headers["etag"]
    done = (
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>"
        f"<ETag>{etag}</ETag></Part></CompleteMultipartUpload>"
    ).encode()
    assert (await owner.request("POST", f"{K}?uploadId={upload}", done)).status == 200
    assert await tags_of(owner, K) == [("stage", "raw")]


async def test_copy_takes_tags_and_metadata_each_by_its_own_directive(owner: Client) -> None:
    source = {"x-amz-meta-origin": "ledger", **header([("team", "blue")])}
    await owner.request("PUT", K, b"data", source)
    copy = {"x-amz-copy-source": K}

    async def copied(name: str, extra: dict[str, str]) -> tuple[list[tuple[str, str]], str]:
        reply = await owner.request("PUT", f"{B}/{name}", b"", {**copy, **extra})
        assert reply.status == 200, reply.body
        head = await owner.request("HEAD", f"{B}/{name}")
        return await tags_of(owner, f"{B}/{name}"), head.headers.get("x-amz-meta-origin", "")

    assert await copied("default", {}) == ([("team", "blue")], "ledger")
    replaced = {"x-amz-tagging-directive": "REPLACE", **header([("team", "red")])}
    assert await copied("retagged", replaced) == ([("team", "red")], "ledger")
    assert await copied("cleared", {"x-amz-tagging-directive": "REPLACE"}) == ([], "ledger")
    new_metadata = {"x-amz-metadata-directive": "REPLACE", "x-amz-meta-origin": "copy"}
    assert await copied("remeta", new_metadata) == ([("team", "blue")], "copy")
    both = {**new_metadata, **replaced}
    assert await copied("both", both) == ([("team", "red")], "copy")
    # Retagging an object by copying it onto itself is a change, so it is allowed.
    onto_itself = await owner.request("PUT", K, b"", {**copy, **replaced})
    assert onto_itself.status == 200, onto_itself.body
    assert await tags_of(owner, K) == [("team", "red")]
    reply = await owner.request(
        "PUT", f"{B}/bad", b"", {**copy, "x-amz-tagging-directive": "MERGE"}
    )
    assert (reply.status, reply.error_code()) == (400, "InvalidArgument")


def policy(*statements: dict[str, object]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


async def user_with(owner: Client, name: str, *statements: dict[str, object]) -> Client:
    user = await owner.iam_user(name)
    assert owner.identity is not None
    await owner.identity.put_user_policy(owner.tenant_id, name, "p", policy(*statements))
    return user


ALL_OBJECTS = "arn:aws:s3:::tagged/*"


async def test_tags_on_a_write_take_put_object_tagging_too(owner: Client) -> None:
    writer = await user_with(
        owner, "writer", {"Effect": "Allow", "Action": "s3:PutObject", "Resource": ALL_OBJECTS}
    )
    assert (await writer.request("PUT", K, b"x")).status == 200
    reply = await writer.request("PUT", K, b"y", header([("a", "1")]))
    assert (reply.status, reply.error_code()) == (403, "AccessDenied")
    reply = await writer.request("POST", f"{K}?uploads", b"", header([("a", "1")]))
    assert (reply.status, reply.error_code()) == (403, "AccessDenied")
    assert (await owner.request("GET", K)).body == b"x"
    # Copying a tagged object carries its tags: reading them takes GetObjectTagging.
    await owner.request("PUT", f"{B}/tagged-source", b"s", header([("a", "1")]))
    copier = await user_with(
        owner,
        "copier",
        {
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:PutObjectTagging"],
            "Resource": ALL_OBJECTS,
        },
    )
    reply = await copier.request(
        "PUT", f"{B}/copy", b"", {"x-amz-copy-source": f"{B}/tagged-source"}
    )
    assert (reply.status, reply.error_code()) == (403, "AccessDenied")
    untagged = await copier.request("PUT", f"{B}/copy", b"", {"x-amz-copy-source": K})
    assert untagged.status == 200


async def test_a_policy_can_govern_the_tags_a_write_sets(owner: Client) -> None:
    writer = await user_with(
        owner,
        "labeller",
        {"Effect": "Allow", "Action": "s3:PutObject", "Resource": ALL_OBJECTS},
        {
            "Effect": "Allow",
            "Action": "s3:PutObjectTagging",
            "Resource": ALL_OBJECTS,
            "Condition": {
                "StringEquals": {"s3:RequestObjectTag/team": "blue"},
                "ForAllValues:StringEquals": {"s3:RequestObjectTagKeys": ["team", "stage"]},
            },
        },
    )
    assert (await writer.request("PUT", K, b"x", header([("team", "blue")]))).status == 200
    for pairs in ([("team", "red")], [("team", "blue"), ("owner", "me")]):
        reply = await writer.request("PUT", K, b"y", header(pairs))
        assert (reply.status, reply.error_code()) == (403, "AccessDenied"), pairs
        reply = await put_tags(writer, K, pairs)
        assert (reply.status, reply.error_code()) == (403, "AccessDenied"), pairs
    assert (await put_tags(writer, K, [("team", "blue"), ("stage", "raw")])).status == 200
    assert await tags_of(owner, K) == [("team", "blue"), ("stage", "raw")]


async def test_a_deny_on_an_existing_tag_holds_for_reads_and_retagging(owner: Client) -> None:
    # The classic attribute-based rule: nobody but the owner reads what is classified secret.
    # A policy that stored tags without giving them to the engine would fail open here.
    reader = await user_with(
        owner,
        "analyst",
        {"Effect": "Allow", "Action": "s3:*", "Resource": ALL_OBJECTS},
        {
            "Effect": "Deny",
            "Action": ["s3:GetObject", "s3:PutObjectTagging", "s3:DeleteObjectTagging"],
            "Resource": ALL_OBJECTS,
            "Condition": {"StringEquals": {"s3:ExistingObjectTag/classification": "secret"}},
        },
    )
    await owner.request("PUT", K, b"payroll", header([("classification", "secret")]))
    await owner.request("PUT", f"{B}/menu", b"soup", header([("classification", "public")]))
    for method in ("GET", "HEAD"):
        reply = await reader.request(method, K)
        assert reply.status == 403, method
    assert (await reader.request("GET", f"{B}/menu")).body == b"soup"
    # Nor can the reader lift the label to read it next.
    reply = await put_tags(reader, K, [("classification", "public")])
    assert (reply.status, reply.error_code()) == (403, "AccessDenied")
    reply = await reader.request("DELETE", f"{K}?tagging")
    assert (reply.status, reply.error_code()) == (403, "AccessDenied")
    assert await tags_of(owner, K) == [("classification", "secret")]
    # Once the owner relabels it, the same policy lets the reader in.
    assert (await put_tags(owner, K, [("classification", "public")])).status == 200
    assert (await reader.request("GET", K)).body == b"payroll"


async def test_a_bucket_policy_on_existing_tags_counts_too(owner: Client) -> None:
    other = await owner.other_tenant("partner")
    await owner.request("PUT", K, b"shared", header([("share", "partner")]))
    await owner.request("PUT", f"{B}/private", b"mine", header([("share", "no")]))
    assert owner.tenant_id
    document = policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{other.tenant_id}:root"},
            "Action": "s3:GetObject",
            "Resource": ALL_OBJECTS,
            "Condition": {"StringEquals": {"s3:ExistingObjectTag/share": "partner"}},
        }
    )
    assert (await owner.request("PUT", f"{B}?policy", document.encode())).status == 204
    assert (await other.request("GET", K)).body == b"shared"
    assert (await other.request("GET", f"{B}/private")).status == 403
