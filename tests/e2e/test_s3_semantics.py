"""S3 behaviour of a real ``andromede serve``, as boto3 and raw signed requests see it.

GetObject's ranges, conditions, ``response-*`` overrides and ``partNumber``; metadata round
trips; CopyObject directives and copy-source conditions; listing (v1 and v2) with prefixes,
delimiters, every pagination scheme and ``encoding-type=url``; multipart listings, UploadPartCopy
and the multipart ETag; DeleteObjects quiet mode and its 1,000-key maximum; virtual-host-style
addressing; the bucket's region. Default settings: the session server.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote_plus
from xml.etree import ElementTree

import pytest

from support.rawclient import RawClient, RawResponse, boto3_client_for, quote_key, raw_client_for
from support.server import REGION, ServerProcess

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import (
        CompletedPartTypeDef,
        CopySourceTypeDef,
        ObjectIdentifierTypeDef,
    )

pytestmark = pytest.mark.e2e

MIB = 1024 * 1024
NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


@pytest.fixture(scope="module")
def client(server: ServerProcess) -> S3Client:
    return boto3_client_for(server)


@pytest.fixture(scope="module")
def raw(server: ServerProcess) -> RawClient:
    return raw_client_for(server)


@pytest.fixture
def bkt(client: S3Client) -> Iterator[str]:
    """A fresh bucket per test, emptied (objects and uploads) and deleted afterwards."""
    name = f"sem-{uuid.uuid4().hex[:16]}"
    client.create_bucket(Bucket=name)
    yield name
    for upload in client.list_multipart_uploads(Bucket=name).get("Uploads", []):
        client.abort_multipart_upload(Bucket=name, Key=upload["Key"], UploadId=upload["UploadId"])
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=name):
        keys = [o["Key"] for o in page.get("Contents", [])]
        # A key with a control character cannot travel in XML 1.0: delete those one by one.
        for key in [k for k in keys if not k.isprintable()]:
            client.delete_object(Bucket=name, Key=key)
        batch: list[ObjectIdentifierTypeDef] = [{"Key": k} for k in keys if k.isprintable()]
        if batch:
            client.delete_objects(Bucket=name, Delete={"Objects": batch, "Quiet": True})
    client.delete_bucket(Bucket=name)


def http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def md5(data: bytes) -> bytes:
    return hashlib.md5(data).digest()  # noqa: S324 - S3's ETag


def xml_texts(body: bytes, path: str) -> list[str]:
    root = ElementTree.fromstring(body)  # noqa: S314 - our own server's response
    qualified = "/".join(NS + part for part in path.split("/"))
    return [element.text or "" for element in root.iterfind(qualified)]


def _get(raw: RawClient, bucket: str, key: str, query: str = "", **headers: str) -> RawResponse:
    return raw.request("GET", f"/{bucket}/{quote_key(key)}", query, headers)


# -- GetObject --------------------------------------------------------------------------------
def test_get_every_range_form(client: S3Client, raw: RawClient, bkt: str) -> None:
    data = b"0123456789"
    client.put_object(Bucket=bkt, Key="ten", Body=data)
    for spec, body, content_range in [
        ("bytes=0-0", b"0", "bytes 0-0/10"),
        ("bytes=5-", b"56789", "bytes 5-9/10"),
        ("bytes=-3", b"789", "bytes 7-9/10"),
        ("bytes=8-100", b"89", "bytes 8-9/10"),
        ("bytes=0-9", data, "bytes 0-9/10"),
    ]:
        response = _get(raw, bkt, "ten", Range=spec)
        assert response.status == 206, (spec, response.body[:300])
        assert response.body == body, spec
        assert response.header("content-range") == content_range, spec
        assert response.header("content-length") == str(len(body)), spec
    # More than one range: S3 ignores the header and sends the whole object.
    whole = _get(raw, bkt, "ten", Range="bytes=0-1,4-5")
    assert whole.status == 200
    assert whole.body == data
    assert whole.header("content-range") is None


def test_get_conditions(client: S3Client, raw: RawClient, bkt: str) -> None:
    client.put_object(Bucket=bkt, Key="c", Body=b"conditional")
    head = client.head_object(Bucket=bkt, Key="c")
    etag = head["ETag"]
    modified = head["LastModified"]
    # "after" is Last-Modified itself, not a later moment: a date in the future is invalid
    # (RFC 7232 section 3.3) and ignored.
    before, after = http_date(modified - timedelta(days=1)), http_date(modified)
    other = '"0123456789abcdef0123456789abcdef"'
    cases: list[tuple[dict[str, str], int]] = [
        ({"If-Match": etag}, 200),
        ({"If-Match": "*"}, 200),
        ({"If-Match": other}, 412),
        ({"If-None-Match": etag}, 304),
        ({"If-None-Match": "*"}, 304),
        ({"If-None-Match": other}, 200),
        ({"If-Modified-Since": after}, 304),
        ({"If-Modified-Since": before}, 200),
        ({"If-Unmodified-Since": before}, 412),
        ({"If-Unmodified-Since": after}, 200),
        # AWS's combination rules (RFC 7232 section 6): If-Match wins over If-Unmodified-Since,
        # If-None-Match wins over If-Modified-Since.
        ({"If-Match": etag, "If-Unmodified-Since": before}, 200),
        ({"If-Match": other, "If-Unmodified-Since": after}, 412),
        ({"If-None-Match": etag, "If-Modified-Since": before}, 304),
        ({"If-None-Match": other, "If-Modified-Since": after}, 200),
    ]
    for headers, status in cases:
        for method in ("GET", "HEAD"):
            response = raw.request(method, f"/{bkt}/c", headers=headers)
            assert response.status == status, (method, headers, response.body[:300])
            if status == 304:
                assert response.body == b""
                assert response.header("etag") == etag
            if status == 412 and method == "GET":
                assert response.error().code == "PreconditionFailed"
            if status == 200 and method == "GET":
                assert response.body == b"conditional"


def test_get_response_overrides(client: S3Client, raw: RawClient, bkt: str) -> None:
    client.put_object(Bucket=bkt, Key="o", Body=b"override", ContentType="text/plain")
    overrides = {
        "response-content-type": ("application/x-test", "content-type"),
        "response-content-language": ("fr-FR", "content-language"),
        "response-expires": ("Thu, 01 Dec 2033 16:00:00 GMT", "expires"),
        "response-cache-control": ("no-cache, no-store", "cache-control"),
        "response-content-disposition": ('attachment; filename="a b.txt"', "content-disposition"),
        "response-content-encoding": ("identity", "content-encoding"),
    }
    query = "&".join(
        f"{name}={quote(value, safe='-_.~')}" for name, (value, _) in sorted(overrides.items())
    )
    for method in ("GET", "HEAD"):
        response = raw.request(method, f"/{bkt}/o", query)
        assert response.status == 200, response.body[:300]
        for value, header in overrides.values():
            assert response.header(header) == value, header


def _multipart(client: S3Client, bucket: str, key: str, parts: list[bytes]) -> str:
    upload_id = client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    done: list[CompletedPartTypeDef] = [
        {
            "PartNumber": n,
            "ETag": client.upload_part(
                Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=n, Body=data
            )["ETag"],
        }
        for n, data in enumerate(parts, start=1)
    ]
    result = client.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": done}
    )
    return result["ETag"]


def _multipart_etag(parts: list[bytes]) -> str:
    return f'"{hashlib.md5(b"".join(md5(p) for p in parts)).hexdigest()}-{len(parts)}"'  # noqa: S324


def test_get_part_number(client: S3Client, raw: RawClient, bkt: str) -> None:
    parts = [os.urandom(5 * MIB), os.urandom(1000)]
    etag = _multipart(client, bkt, "mp", parts)
    assert etag == _multipart_etag(parts)
    total = sum(len(p) for p in parts)
    offset = 0
    for number, data in enumerate(parts, start=1):
        for method in ("GET", "HEAD"):
            response = raw.request(method, f"/{bkt}/mp", f"partNumber={number}")
            assert response.status == 206, response.body[:300]
            end = offset + len(data) - 1
            assert response.header("content-range") == f"bytes {offset}-{end}/{total}"
            assert response.header("content-length") == str(len(data))
            assert response.header("x-amz-mp-parts-count") == "2"
            assert response.header("etag") == etag
            if method == "GET":
                assert response.body == data
        offset += len(data)
    assert raw.request("GET", f"/{bkt}/mp", "partNumber=3").status == 416

    client.put_object(Bucket=bkt, Key="single", Body=b"single part")
    single = raw.request("GET", f"/{bkt}/single", "partNumber=1")
    assert single.status in (200, 206), single.body[:300]
    assert single.body == b"single part"
    assert single.header("x-amz-mp-parts-count") is None
    beyond = raw.request("GET", f"/{bkt}/single", "partNumber=2")
    assert beyond.status == 416
    assert beyond.error().code == "InvalidPartNumber"


def test_metadata_round_trip(client: S3Client, raw: RawClient, bkt: str) -> None:
    expires = datetime(2033, 12, 1, 16, 0, tzinfo=UTC)
    client.put_object(
        Bucket=bkt,
        Key="meta",
        Body=b"data",
        Metadata={"colour": "bleu", "owner-name": "Emilie"},
        ContentType="text/csv",
        ContentEncoding="gzip",
        ContentDisposition='inline; filename="x.csv"',
        ContentLanguage="fr",
        CacheControl="max-age=60",
        Expires=expires,
    )
    for got in (
        client.head_object(Bucket=bkt, Key="meta"),
        client.get_object(Bucket=bkt, Key="meta"),
    ):
        assert got["Metadata"] == {"colour": "bleu", "owner-name": "Emilie"}
        assert got["ContentType"] == "text/csv"
        assert got["ContentEncoding"] == "gzip"
        assert got["ContentDisposition"] == 'inline; filename="x.csv"'
        assert got["ContentLanguage"] == "fr"
        assert got["CacheControl"] == "max-age=60"
        headers = got["ResponseMetadata"]["HTTPHeaders"]
        assert parsedate_to_datetime(headers["expires"]) == expires
    get = raw.request("GET", f"/{bkt}/meta")
    head = raw.request("HEAD", f"/{bkt}/meta")
    for name in ("etag", "content-length", "content-type", "last-modified", "x-amz-meta-colour"):
        assert get.header(name) == head.header(name), name


# -- CopyObject -------------------------------------------------------------------------------
def test_copy_directives(client: S3Client, bkt: str) -> None:
    client.put_object(
        Bucket=bkt, Key="src", Body=b"source", ContentType="text/plain", Metadata={"a": "1"}
    )
    source: CopySourceTypeDef = {"Bucket": bkt, "Key": "src"}
    client.copy_object(
        Bucket=bkt, Key="copied", CopySource=source, Metadata={"b": "2"}, ContentType="x/y"
    )
    copied = client.head_object(Bucket=bkt, Key="copied")
    assert copied["Metadata"] == {"a": "1"}, "COPY keeps the source's metadata"
    assert copied["ContentType"] == "text/plain"
    client.copy_object(
        Bucket=bkt,
        Key="replaced",
        CopySource=source,
        Metadata={"b": "2"},
        ContentType="x/y",
        MetadataDirective="REPLACE",
    )
    replaced = client.head_object(Bucket=bkt, Key="replaced")
    assert replaced["Metadata"] == {"b": "2"}
    assert replaced["ContentType"] == "x/y"
    assert client.get_object(Bucket=bkt, Key="replaced")["Body"].read() == b"source"

    client.copy_object(
        Bucket=bkt, Key="src", CopySource=source, Metadata={"c": "3"}, MetadataDirective="REPLACE"
    )
    in_place = client.get_object(Bucket=bkt, Key="src")
    assert in_place["Metadata"] == {"c": "3"}
    assert in_place["Body"].read() == b"source"


def test_copy_source_conditions(client: S3Client, raw: RawClient, bkt: str) -> None:
    client.put_object(Bucket=bkt, Key="src", Body=b"source")
    head = client.head_object(Bucket=bkt, Key="src")
    etag, modified = head["ETag"], head["LastModified"]
    before, after = http_date(modified - timedelta(days=1)), http_date(modified)
    cases: list[tuple[dict[str, str], int]] = [
        ({"x-amz-copy-source-if-match": etag}, 200),
        ({"x-amz-copy-source-if-match": '"00"'}, 412),
        ({"x-amz-copy-source-if-none-match": etag}, 412),
        ({"x-amz-copy-source-if-none-match": '"00"'}, 200),
        ({"x-amz-copy-source-if-modified-since": before}, 200),
        ({"x-amz-copy-source-if-modified-since": after}, 412),
        ({"x-amz-copy-source-if-unmodified-since": after}, 200),
        ({"x-amz-copy-source-if-unmodified-since": before}, 412),
        # AWS: if-match true and if-unmodified-since false → copy.
        (
            {
                "x-amz-copy-source-if-match": etag,
                "x-amz-copy-source-if-unmodified-since": before,
            },
            200,
        ),
        # AWS: if-none-match false and if-modified-since true → 412.
        (
            {
                "x-amz-copy-source-if-none-match": etag,
                "x-amz-copy-source-if-modified-since": before,
            },
            412,
        ),
    ]
    for n, (headers, status) in enumerate(cases):
        response = raw.request(
            "PUT", f"/{bkt}/dst-{n}", headers={"x-amz-copy-source": f"/{bkt}/src", **headers}
        )
        assert response.status == status, (headers, response.body[:300])
        present = raw.request("HEAD", f"/{bkt}/dst-{n}").status
        assert present == (200 if status == 200 else 404), headers


# -- listing ----------------------------------------------------------------------------------
def _put_keys(client: S3Client, bucket: str, keys: list[str]) -> None:
    for key in keys:
        client.put_object(Bucket=bucket, Key=key, Body=key.encode())


def test_list_prefix_and_delimiter(client: S3Client, bkt: str) -> None:
    _put_keys(client, bkt, ["a/1", "a/2", "a/b/3", "b/1", "c", "d"])
    for v2 in (False, True):
        listing = (
            client.list_objects_v2(Bucket=bkt, Delimiter="/")
            if v2
            else client.list_objects(Bucket=bkt, Delimiter="/")
        )
        assert [o["Key"] for o in listing["Contents"]] == ["c", "d"]
        assert [p["Prefix"] for p in listing["CommonPrefixes"]] == ["a/", "b/"]
        nested = (
            client.list_objects_v2(Bucket=bkt, Prefix="a/", Delimiter="/")
            if v2
            else client.list_objects(Bucket=bkt, Prefix="a/", Delimiter="/")
        )
        assert [o["Key"] for o in nested["Contents"]] == ["a/1", "a/2"]
        assert [p["Prefix"] for p in nested["CommonPrefixes"]] == ["a/b/"]
    flat = client.list_objects_v2(Bucket=bkt, Prefix="a/")
    assert [o["Key"] for o in flat["Contents"]] == ["a/1", "a/2", "a/b/3"]
    assert flat["KeyCount"] == 3
    assert flat["Contents"][0]["Size"] == 3


def test_list_pagination_every_scheme(client: S3Client, bkt: str) -> None:
    keys = sorted(f"key-{n:02d}" for n in range(25))
    _put_keys(client, bkt, keys)

    seen: list[str] = []
    token: str | None = None
    while True:
        page = (
            client.list_objects_v2(Bucket=bkt, MaxKeys=7, ContinuationToken=token)
            if token
            else client.list_objects_v2(Bucket=bkt, MaxKeys=7)
        )
        batch = [o["Key"] for o in page.get("Contents", [])]
        assert len(batch) <= 7
        assert page["KeyCount"] == len(batch)
        seen.extend(batch)
        if not page["IsTruncated"]:
            break
        token = page["NextContinuationToken"]
    assert seen == keys

    seen = []
    marker = ""
    while True:
        v1 = client.list_objects(Bucket=bkt, MaxKeys=7, Marker=marker)
        batch = [o["Key"] for o in v1.get("Contents", [])]
        assert len(batch) <= 7
        seen.extend(batch)
        if not v1["IsTruncated"]:
            break
        marker = v1.get("NextMarker") or batch[-1]
    assert seen == keys

    after = client.list_objects_v2(Bucket=bkt, StartAfter="key-20")
    assert [o["Key"] for o in after["Contents"]] == keys[21:]
    assert after["StartAfter"] == "key-20"

    zero = client.list_objects_v2(Bucket=bkt, MaxKeys=0)
    assert zero.get("Contents", []) == []
    assert zero["IsTruncated"] is True or zero["KeyCount"] == 0


def test_list_encoding_type_url(client: S3Client, raw: RawClient, bkt: str) -> None:
    keys = sorted(
        ["enc/with space", "enc/plus+sign", "enc/unicode-é漢字", "enc/ctrl-\x01-\x7f", "enc/a%2Fb"]
    )
    _put_keys(client, bkt, keys)
    # boto3 asks for encoding-type=url and decodes: the keys come back as they were.
    assert [o["Key"] for o in client.list_objects_v2(Bucket=bkt)["Contents"]] == keys
    assert [o["Key"] for o in client.list_objects(Bucket=bkt)["Contents"]] == keys
    for query in ("encoding-type=url&list-type=2&prefix=enc%2F", "encoding-type=url&prefix=enc%2F"):
        response = raw.request("GET", f"/{bkt}", query)
        assert response.status == 200, response.body[:300]
        assert xml_texts(response.body, "EncodingType") == ["url"]
        encoded = xml_texts(response.body, "Contents/Key")
        assert all(ch not in k for k in encoded for ch in " \x01\x7fé"), encoded
        assert sorted(unquote_plus(k) for k in encoded) == keys


def test_list_fetch_owner(client: S3Client, bkt: str) -> None:
    client.put_object(Bucket=bkt, Key="k", Body=b"k")
    assert "Owner" not in client.list_objects_v2(Bucket=bkt)["Contents"][0]
    owner = client.list_objects_v2(Bucket=bkt, FetchOwner=True)["Contents"][0]["Owner"]
    assert owner["ID"]
    assert client.list_objects(Bucket=bkt)["Contents"][0]["Owner"]["ID"] == owner["ID"]


def test_list_multipart_uploads_and_parts_pagination(client: S3Client, bkt: str) -> None:
    uploads = {
        (key, client.create_multipart_upload(Bucket=bkt, Key=key)["UploadId"])
        for key in ["u1", "u2", "u2", "u3", "u4"]
    }
    seen: set[tuple[str, str]] = set()
    key_marker, id_marker = "", ""
    while True:
        page = client.list_multipart_uploads(
            Bucket=bkt, MaxUploads=2, KeyMarker=key_marker, UploadIdMarker=id_marker
        )
        batch = {(u["Key"], u["UploadId"]) for u in page.get("Uploads", [])}
        assert len(batch) <= 2
        assert not batch & seen, "an upload listed twice"
        seen |= batch
        if not page["IsTruncated"]:
            break
        key_marker, id_marker = page["NextKeyMarker"], page["NextUploadIdMarker"]
    assert seen == uploads

    key, upload_id = sorted(uploads)[0]
    etags = {
        n: client.upload_part(
            Bucket=bkt, Key=key, UploadId=upload_id, PartNumber=n, Body=bytes([n]) * n
        )["ETag"]
        for n in (1, 2, 3, 5, 8)
    }
    listed: dict[int, str] = {}
    marker = 0
    while True:
        parts = client.list_parts(
            Bucket=bkt, Key=key, UploadId=upload_id, MaxParts=2, PartNumberMarker=marker
        )
        part_batch = {p["PartNumber"]: p["ETag"] for p in parts.get("Parts", [])}
        assert len(part_batch) <= 2
        listed |= part_batch
        if not parts["IsTruncated"]:
            break
        marker = parts["NextPartNumberMarker"]
    assert listed == etags


def test_upload_part_copy_with_range_and_multipart_etag(client: S3Client, bkt: str) -> None:
    source = os.urandom(10_000)
    client.put_object(Bucket=bkt, Key="src", Body=source)
    first = os.urandom(5 * MIB)
    upload_id = client.create_multipart_upload(Bucket=bkt, Key="dst")["UploadId"]
    e1 = client.upload_part(Bucket=bkt, Key="dst", UploadId=upload_id, PartNumber=1, Body=first)
    e2 = client.upload_part_copy(
        Bucket=bkt,
        Key="dst",
        UploadId=upload_id,
        PartNumber=2,
        CopySource={"Bucket": bkt, "Key": "src"},
        CopySourceRange="bytes=100-1099",
    )["CopyPartResult"]
    assert e2["ETag"] == f'"{md5(source[100:1100]).hex()}"'
    done = client.complete_multipart_upload(
        Bucket=bkt,
        Key="dst",
        UploadId=upload_id,
        MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": e1["ETag"]}, {"PartNumber": 2, "ETag": e2["ETag"]}]
        },
    )
    expected_etag = _multipart_etag([first, source[100:1100]])
    assert done["ETag"] == expected_etag
    got = client.get_object(Bucket=bkt, Key="dst")
    assert got["ETag"] == expected_etag
    assert got["Body"].read() == first + source[100:1100]


# -- DeleteObjects ----------------------------------------------------------------------------
def test_delete_objects_quiet_and_thousand_keys(client: S3Client, bkt: str) -> None:
    present = [f"p/{n:04d}" for n in range(40)]
    _put_keys(client, bkt, present)
    loud = client.delete_objects(
        Bucket=bkt, Delete={"Objects": [{"Key": present[0]}, {"Key": "never-existed"}]}
    )
    assert sorted(d["Key"] for d in loud["Deleted"]) == sorted([present[0], "never-existed"])

    quiet = client.delete_objects(
        Bucket=bkt,
        Delete={"Objects": [{"Key": present[1]}, {"Key": "k" * 1025}], "Quiet": True},
    )
    assert "Deleted" not in quiet, "quiet mode reports only errors"
    assert [e["Key"] for e in quiet.get("Errors", [])] == ["k" * 1025]
    assert client.list_objects_v2(Bucket=bkt)["KeyCount"] == len(present) - 2

    thousand = present[2:] + [f"absent/{n:04d}" for n in range(1000 - len(present) + 2)]
    assert len(thousand) == 1000
    result = client.delete_objects(Bucket=bkt, Delete={"Objects": [{"Key": k} for k in thousand]})
    assert len(result["Deleted"]) == 1000
    assert "Errors" not in result
    assert client.list_objects_v2(Bucket=bkt)["KeyCount"] == 0


# -- addressing and region --------------------------------------------------------------------
def test_virtual_host_style(client: S3Client, raw: RawClient, bkt: str) -> None:
    host = f"{bkt}.s3.localhost:{raw.port}"
    body = b"virtually hosted"
    signed = raw.sign("PUT", "/vh/key", payload_hash=hashlib.sha256(body).hexdigest(), host=host)
    stream = raw.open("PUT", "/vh/key", {**signed, "Content-Length": str(len(body))})
    stream.send(body)
    put = stream.response()
    assert put.status == 200, put.body[:300]
    assert client.get_object(Bucket=bkt, Key="vh/key")["Body"].read() == body

    signed = raw.sign("GET", "/vh/key", payload_hash=hashlib.sha256(b"").hexdigest(), host=host)
    got = raw.open("GET", "/vh/key", signed).response()
    assert got.status == 200, got.body[:300]
    assert got.body == body

    signed = raw.sign(
        "GET", "/", "list-type=2", payload_hash=hashlib.sha256(b"").hexdigest(), host=host
    )
    listing = raw.open("GET", "/?list-type=2", signed).response()
    assert listing.status == 200, listing.body[:300]
    assert xml_texts(listing.body, "Contents/Key") == ["vh/key"]


def test_bucket_region(client: S3Client, raw: RawClient, bkt: str) -> None:
    assert client.get_bucket_location(Bucket=bkt)["LocationConstraint"] == REGION
    head = client.head_bucket(Bucket=bkt)
    assert head["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == REGION
    location = raw.request("GET", f"/{bkt}", "location")
    assert location.status == 200, location.body[:300]
    assert ElementTree.fromstring(location.body).text == REGION  # noqa: S314
