"""An unversioned bucket's versions in process (decision 0078): GetBucketVersioning's empty
configuration, ListObjectVersions' one ``null`` version per key with S3's paging, and the
``null`` version ids that tools send back. Versioned buckets: tests/unit/s3/test_versioning.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import defusedxml.ElementTree as ElementTree
import pytest

from support.s3app import Client, Reply, in_process_client

B = "/kept"


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    async with in_process_client(tmp_path) as made:
        assert (await made.request("PUT", B)).status == 200
        for key in ("a", "b/1", "b/2", "c", "d"):
            assert (await made.request("PUT", f"{B}/{key}", key.encode())).status == 200
        yield made


def _versions(reply: Reply) -> tuple[dict[str, str], list[dict[str, str]], list[str]]:
    """The result's own fields, its versions and its common prefixes."""
    assert reply.status == 200, reply.body
    root = ElementTree.fromstring(reply.body)
    assert root.tag.endswith("ListVersionsResult")
    fields: dict[str, str] = {}
    versions: list[dict[str, str]] = []
    prefixes: list[str] = []
    for child in root:
        name = child.tag.split("}")[-1]
        if name == "Version":
            versions.append({item.tag.split("}")[-1]: item.text or "" for item in child})
        elif name == "CommonPrefixes":
            prefixes.append(child[0].text or "")
        elif name == "DeleteMarker":
            raise AssertionError("an unversioned bucket has no delete markers")
        else:
            fields[name] = child.text or ""
    return fields, versions, prefixes


async def test_a_bucket_never_versioned_says_so(client: Client) -> None:
    reply = await client.request("GET", f"{B}?versioning")
    assert reply.status == 200
    root = ElementTree.fromstring(reply.body)
    assert root.tag.endswith("VersioningConfiguration") and len(root) == 0
    missing = await client.request("GET", "/nowhere?versioning")
    assert (missing.status, missing.error_code()) == (404, "NoSuchBucket")


async def test_every_object_is_its_keys_one_null_version(client: Client) -> None:
    fields, versions, prefixes = _versions(await client.request("GET", f"{B}?versions"))
    assert fields["IsTruncated"] == "false" and fields["MaxKeys"] == "1000"
    assert [v["Key"] for v in versions] == ["a", "b/1", "b/2", "c", "d"]
    assert {(v["VersionId"], v["IsLatest"], v["StorageClass"]) for v in versions} == {
        ("null", "true", "STANDARD")
    }
    assert versions[0]["Size"] == "1" and versions[0]["ETag"].startswith('"')
    assert prefixes == []
    _, versions, prefixes = _versions(
        await client.request("GET", f"{B}?versions&delimiter=/&prefix=")
    )
    assert [v["Key"] for v in versions] == ["a", "c", "d"] and prefixes == ["b/"]


async def test_pages_follow_key_and_version_markers(client: Client) -> None:
    fields, versions, _ = _versions(await client.request("GET", f"{B}?versions&max-keys=2"))
    assert [v["Key"] for v in versions] == ["a", "b/1"]
    assert (fields["IsTruncated"], fields["NextKeyMarker"], fields["NextVersionIdMarker"]) == (
        "true",
        "b/1",
        "null",
    )
    fields, versions, _ = _versions(
        await client.request(
            "GET", f"{B}?versions&max-keys=2&key-marker=b/1&version-id-marker=null"
        )
    )
    assert [v["Key"] for v in versions] == ["b/2", "c"]
    assert fields["KeyMarker"] == "b/1" and fields["VersionIdMarker"] == "null"
    _, versions, _ = _versions(await client.request("GET", f"{B}?versions&key-marker=c"))
    assert [v["Key"] for v in versions] == ["d"]


@pytest.mark.parametrize(
    "query",
    ["versions&version-id-marker=null", "versions&key-marker=a&version-id-marker=3HL4kqtJlc"],
)
async def test_bad_markers(client: Client, query: str) -> None:
    reply = await client.request("GET", f"{B}?{query}")
    assert (reply.status, reply.error_code()) == (400, "InvalidArgument")


async def test_null_versions_are_what_tools_delete(client: Client) -> None:
    assert (await client.request("DELETE", f"{B}/a?versionId=null")).status == 204
    other = await client.request("DELETE", f"{B}/c?versionId=3HL4kqtJlc")
    assert (other.status, other.error_code()) == (400, "InvalidArgument")
    _, versions, _ = _versions(await client.request("GET", f"{B}?versions"))
    assert [v["Key"] for v in versions] == ["b/1", "b/2", "c", "d"]
