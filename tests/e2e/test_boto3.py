"""boto3 (latest, default settings) against a real ``andromede serve`` over HTTP.

Default boto3 sends flexible checksums (CRC32) on every upload with a signed payload over HTTP, so
these tests exercise the checksum path without asking for it. Every read compares bytes.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from e2e.helpers import (
    MIB,
    MakeFile,
    checksum,
    composite_checksum,
    create_bucket,
    empty_and_delete_bucket,
    sha256_bytes,
    sha256_file,
    unique_bucket,
)
from support.server import REGION

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.e2e


def error_code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response.get("Error", {}).get("Code"))


def test_bucket_create_list_locate_delete(s3: S3Client) -> None:
    name = unique_bucket()
    create_bucket(s3, name)
    try:
        s3.head_bucket(Bucket=name)
        names = [entry["Name"] for entry in s3.list_buckets()["Buckets"]]
        assert name in names
        assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] == REGION
    finally:
        s3.delete_bucket(Bucket=name)
    assert name not in [entry["Name"] for entry in s3.list_buckets()["Buckets"]]
    with pytest.raises(ClientError) as missing:
        s3.head_bucket(Bucket=name)
    assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_put_get_head_delete_object(s3: S3Client, bucket: str) -> None:
    data = os.urandom(300_000)
    put = s3.put_object(
        Bucket=bucket,
        Key="docs/été 2024.bin",
        Body=data,
        ContentType="application/x-test",
        Metadata={"origin": "e2e"},
    )
    assert put["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'  # noqa: S324 - S3's ETag

    head = s3.head_object(Bucket=bucket, Key="docs/été 2024.bin")
    assert head["ContentLength"] == len(data)
    assert head["ETag"] == put["ETag"]
    assert head["ContentType"] == "application/x-test"
    assert head["Metadata"] == {"origin": "e2e"}

    got = s3.get_object(Bucket=bucket, Key="docs/été 2024.bin")
    assert sha256_bytes(got["Body"].read()) == sha256_bytes(data)

    s3.delete_object(Bucket=bucket, Key="docs/été 2024.bin")
    with pytest.raises(ClientError) as missing:
        s3.get_object(Bucket=bucket, Key="docs/été 2024.bin")
    assert error_code(missing) == "NoSuchKey"


def test_empty_object(s3: S3Client, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="empty", Body=b"")
    got = s3.get_object(Bucket=bucket, Key="empty")
    assert got["ContentLength"] == 0
    assert got["Body"].read() == b""


def test_transfer_manager_multipart_20_mib(
    s3: S3Client, bucket: str, make_file: MakeFile, tmp_path: Path
) -> None:
    payload = make_file("big.bin", 20 * MIB)
    config = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB)
    s3.upload_file(str(payload.path), bucket, "big.bin", Config=config)

    head = s3.head_object(Bucket=bucket, Key="big.bin", ChecksumMode="ENABLED")
    assert head["ContentLength"] == payload.size
    assert head["ETag"].endswith('-4"'), head["ETag"]
    # The transfer manager asks for CRC32 by default; the stored checksum must be the right one
    # for the checksum type the server reports.
    data = payload.path.read_bytes()
    parts = [data[offset : offset + 5 * MIB] for offset in range(0, len(data), 5 * MIB)]
    if head.get("ChecksumType") == "FULL_OBJECT":
        assert head.get("ChecksumCRC32") == checksum("CRC32", data)
    else:
        assert head.get("ChecksumCRC32") == composite_checksum("CRC32", parts)

    target = tmp_path / "download.bin"
    s3.download_file(bucket, "big.bin", str(target), Config=config)
    assert sha256_file(target) == payload.sha256


def test_copy_object(s3: S3Client, bucket: str) -> None:
    data = os.urandom(70_000)
    s3.put_object(Bucket=bucket, Key="source", Body=data, Metadata={"kind": "original"})
    other = unique_bucket()
    create_bucket(s3, other)
    try:
        s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "source"})
        s3.copy_object(Bucket=other, Key="copy", CopySource=f"{bucket}/source")
        s3.copy_object(
            Bucket=bucket,
            Key="replaced",
            CopySource={"Bucket": bucket, "Key": "source"},
            Metadata={"kind": "new"},
            MetadataDirective="REPLACE",
        )
        for where, key in ((bucket, "copy"), (other, "copy"), (bucket, "replaced")):
            got = s3.get_object(Bucket=where, Key=key)
            assert sha256_bytes(got["Body"].read()) == sha256_bytes(data), (where, key)
        assert s3.head_object(Bucket=bucket, Key="copy")["Metadata"] == {"kind": "original"}
        assert s3.head_object(Bucket=bucket, Key="replaced")["Metadata"] == {"kind": "new"}
    finally:
        empty_and_delete_bucket(s3, other)


def test_list_objects_v2_paginator_and_delete_objects_1100_keys(s3: S3Client, bucket: str) -> None:
    keys = sorted(f"dir{index % 3}/key-{index:05d}" for index in range(1100))

    def put(key: str) -> None:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(put, keys))

    paginator = s3.get_paginator("list_objects_v2")
    pages = list(paginator.paginate(Bucket=bucket, PaginationConfig={"PageSize": 300}))
    listed = [entry["Key"] for page in pages for entry in page.get("Contents", [])]
    assert listed == keys
    assert len(pages) == 4
    sizes = {entry["Key"]: entry["Size"] for page in pages for entry in page.get("Contents", [])}
    assert all(sizes[key] == len(key) for key in keys)

    top = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [entry["Prefix"] for entry in top.get("CommonPrefixes", [])] == [
        "dir0/",
        "dir1/",
        "dir2/",
    ]
    assert "Contents" not in top
    under = list(paginator.paginate(Bucket=bucket, Prefix="dir1/"))
    assert [e["Key"] for p in under for e in p.get("Contents", [])] == [
        key for key in keys if key.startswith("dir1/")
    ]

    sample = s3.get_object(Bucket=bucket, Key=keys[777])["Body"].read()
    assert sample == keys[777].encode()

    # DeleteObjects takes at most 1,000 keys per request: two requests, plus one missing key,
    # which S3 reports as deleted.
    first = s3.delete_objects(
        Bucket=bucket, Delete={"Objects": [{"Key": key} for key in keys[:1000]]}
    )
    assert len(first.get("Deleted", [])) == 1000
    assert not first.get("Errors")
    second = s3.delete_objects(
        Bucket=bucket,
        Delete={"Objects": [{"Key": key} for key in [*keys[1000:], "never-existed"]]},
    )
    assert {entry["Key"] for entry in second.get("Deleted", [])} == {*keys[1000:], "never-existed"}
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_presigned_put_and_get_with_urllib(s3: S3Client, bucket: str) -> None:
    data = os.urandom(123_456)
    put_url = s3.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": "presigned"}, ExpiresIn=300
    )
    request = urllib.request.Request(put_url, data=data, method="PUT")
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200

    get_url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "presigned"}, ExpiresIn=300
    )
    with urllib.request.urlopen(get_url, timeout=30) as response:
        assert sha256_bytes(response.read()) == sha256_bytes(data)

    # A presigned URL must not work for another key.
    tampered = get_url.replace("/presigned?", "/other?")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(tampered, timeout=30)
    refused.value.close()
    assert refused.value.code == 403


def test_get_object_ranges(s3: S3Client, bucket: str) -> None:
    data = os.urandom(200_000)
    s3.put_object(Bucket=bucket, Key="ranged", Body=data)

    middle = s3.get_object(Bucket=bucket, Key="ranged", Range="bytes=100000-165535")
    assert middle["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert middle["ContentRange"] == f"bytes 100000-165535/{len(data)}"
    assert middle["Body"].read() == data[100000:165536]

    suffix = s3.get_object(Bucket=bucket, Key="ranged", Range="bytes=-50")
    assert suffix["Body"].read() == data[-50:]
    tail = s3.get_object(Bucket=bucket, Key="ranged", Range="bytes=199990-")
    assert tail["Body"].read() == data[199990:]

    with pytest.raises(ClientError) as unsatisfiable:
        s3.get_object(Bucket=bucket, Key="ranged", Range="bytes=300000-300010")
    assert error_code(unsatisfiable) == "InvalidRange"


def test_conditional_get(s3: S3Client, bucket: str) -> None:
    data = b"conditional body"
    etag = s3.put_object(Bucket=bucket, Key="cond", Body=data)["ETag"]

    with pytest.raises(ClientError) as not_modified:
        s3.get_object(Bucket=bucket, Key="cond", IfNoneMatch=etag)
    assert not_modified.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304

    with pytest.raises(ClientError) as failed:
        s3.get_object(Bucket=bucket, Key="cond", IfMatch='"0123456789abcdef0123456789abcdef"')
    assert failed.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412

    matched = s3.get_object(Bucket=bucket, Key="cond", IfMatch=etag)
    assert matched["Body"].read() == data
    changed = s3.get_object(Bucket=bucket, Key="cond", IfNoneMatch='"something-else"')
    assert changed["Body"].read() == data


# SHA512 and the xxHashes: S3's algorithms since 2025, computed by botocore (decision 0064).
@pytest.mark.parametrize(
    "algorithm",
    ["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256", "SHA512", "XXHASH64", "XXHASH3",
     "XXHASH128"],
)  # fmt: skip
def test_put_object_checksum_stored_and_returned(s3: S3Client, bucket: str, algorithm: str) -> None:
    data = os.urandom(100_000)
    s3.put_object(Bucket=bucket, Key="summed", Body=data, ChecksumAlgorithm=algorithm)  # type: ignore[arg-type]
    expected = checksum(algorithm, data)
    field = f"Checksum{algorithm}"

    head = s3.head_object(Bucket=bucket, Key="summed", ChecksumMode="ENABLED")
    assert head.get(field) == expected
    got = s3.get_object(Bucket=bucket, Key="summed", ChecksumMode="ENABLED")
    assert got.get(field) == expected
    # boto3 validates a full-object checksum while reading; the bytes must match too.
    assert sha256_bytes(got["Body"].read()) == sha256_bytes(data)


def test_put_object_default_checksum_is_crc32(s3: S3Client, bucket: str) -> None:
    data = os.urandom(10_000)
    s3.put_object(Bucket=bucket, Key="default", Body=data)
    head = s3.head_object(Bucket=bucket, Key="default", ChecksumMode="ENABLED")
    assert head.get("ChecksumCRC32") == checksum("CRC32", data)


def test_put_object_wrong_checksum_is_refused(s3: S3Client, bucket: str) -> None:
    with pytest.raises(ClientError) as refused:
        s3.put_object(
            Bucket=bucket, Key="bad", Body=b"some bytes", ChecksumCRC32=checksum("CRC32", b"x")
        )
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ClientError) as missing:
        s3.head_object(Bucket=bucket, Key="bad")
    assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


@pytest.mark.parametrize(
    ("algorithm", "checksum_type"),
    [
        ("CRC32", "COMPOSITE"),
        ("CRC32C", "COMPOSITE"),
        ("SHA256", "COMPOSITE"),
        ("SHA512", "COMPOSITE"),
        ("XXHASH128", "COMPOSITE"),
        ("CRC64NVME", "FULL_OBJECT"),
        ("CRC32", "FULL_OBJECT"),
    ],
)
def test_multipart_upload_checksums(
    s3: S3Client, bucket: str, algorithm: str, checksum_type: str
) -> None:
    parts = [os.urandom(5 * MIB), os.urandom(5 * MIB), os.urandom(300_000)]
    field = f"Checksum{algorithm}"
    upload = s3.create_multipart_upload(
        Bucket=bucket,
        Key="mpu",
        ChecksumAlgorithm=algorithm,  # type: ignore[arg-type]
        ChecksumType=checksum_type,  # type: ignore[arg-type]
    )
    upload_id = upload["UploadId"]
    assert upload.get("ChecksumAlgorithm") == algorithm
    completed_parts = []
    for number, body in enumerate(parts, start=1):
        response = s3.upload_part(
            Bucket=bucket,
            Key="mpu",
            UploadId=upload_id,
            PartNumber=number,
            Body=body,
            ChecksumAlgorithm=algorithm,
        )
        assert response.get(field) == checksum(algorithm, body)
        completed_parts.append(
            {"PartNumber": number, "ETag": response["ETag"], field: response[field]}  # type: ignore[literal-required]
        )

    listed = s3.list_parts(Bucket=bucket, Key="mpu", UploadId=upload_id)
    assert [part["PartNumber"] for part in listed["Parts"]] == [1, 2, 3]
    assert [part["Size"] for part in listed["Parts"]] == [len(body) for body in parts]

    complete = s3.complete_multipart_upload(
        Bucket=bucket,
        Key="mpu",
        UploadId=upload_id,
        MultipartUpload={"Parts": completed_parts},  # type: ignore[typeddict-item]
    )
    whole = b"".join(parts)
    if checksum_type == "COMPOSITE":
        expected = composite_checksum(algorithm, parts)
    else:
        expected = checksum(algorithm, whole)
    assert complete.get(field) == expected
    assert complete["ETag"].endswith('-3"')

    head = s3.head_object(Bucket=bucket, Key="mpu", ChecksumMode="ENABLED")
    assert head.get(field) == expected
    assert head.get("ChecksumType") == checksum_type
    assert head["ContentLength"] == len(whole)
    got = s3.get_object(Bucket=bucket, Key="mpu", ChecksumMode="ENABLED")
    assert got.get(field) == expected
    assert sha256_bytes(got["Body"].read()) == sha256_bytes(whole)

    # GetObjectAttributes: the checksum without its part count; a composite object's parts,
    # paged as ListParts pages them.
    attributes = s3.get_object_attributes(
        Bucket=bucket,
        Key="mpu",
        ObjectAttributes=["ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"],
    )
    assert attributes["ETag"] == complete["ETag"].strip('"')
    assert attributes["ObjectSize"] == len(whole)
    assert attributes["StorageClass"] == "STANDARD"
    assert attributes["Checksum"].get(field) == expected.split("-")[0]  # type: ignore[misc]
    assert attributes["Checksum"].get("ChecksumType") == checksum_type
    object_parts = attributes["ObjectParts"]
    assert object_parts["TotalPartsCount"] == 3
    if checksum_type == "COMPOSITE":
        assert [(part["PartNumber"], part["Size"]) for part in object_parts["Parts"]] == [
            (n, len(body)) for n, body in enumerate(parts, start=1)
        ]
        assert [part.get(field) for part in object_parts["Parts"]] == [  # type: ignore[misc]
            checksum(algorithm, body) for body in parts
        ]
        page = s3.get_object_attributes(
            Bucket=bucket, Key="mpu", ObjectAttributes=["ObjectParts"], MaxParts=2
        )["ObjectParts"]
        assert (page["IsTruncated"], page["NextPartNumberMarker"]) == (True, 2)
    else:
        assert "Parts" not in object_parts


def test_abort_multipart_upload(s3: S3Client, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="aborted")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="aborted", UploadId=upload_id, PartNumber=1, Body=b"x" * 10)
    uploads = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    assert [upload["UploadId"] for upload in uploads] == [upload_id]
    s3.abort_multipart_upload(Bucket=bucket, Key="aborted", UploadId=upload_id)
    assert not s3.list_multipart_uploads(Bucket=bucket).get("Uploads")
    with pytest.raises(ClientError) as gone:
        s3.list_parts(Bucket=bucket, Key="aborted", UploadId=upload_id)
    assert error_code(gone) == "NoSuchUpload"
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="aborted")


def _selected(s3: S3Client, bucket: str, key: str, expression: str, **kw: Any) -> bytes:
    """boto3's ``select_object_content``: the Records events' bytes, Stats and End seen."""
    answer = s3.select_object_content(
        Bucket=bucket, Key=key, Expression=expression, ExpressionType="SQL", **kw
    )
    found, kinds = b"", []
    for event in answer["Payload"]:
        kinds.extend(event)
        if "Records" in event:
            found += event["Records"]["Payload"]
        if "Stats" in event:
            assert event["Stats"]["Details"]["BytesScanned"] > 0
    assert kinds[-2:] == ["Stats", "End"]
    return found


def test_select_object_content(s3: S3Client, bucket: str) -> None:
    """S3 Select (decision 0234): CSV with a header and WHERE, JSON LINES, GZIP, an error."""
    people = b"name,age,city\nAlice,30,Paris\nBob,25,Lyon\nEve,41,Nice\n"
    s3.put_object(Bucket=bucket, Key="people.csv", Body=people)
    s3.put_object(Bucket=bucket, Key="people.csv.gz", Body=gzip.compress(people))
    lines = b'{"n":"a","v":1}\n{"n":"b","v":5}\n{"n":"c","v":9}\n'
    s3.put_object(Bucket=bucket, Key="lines.json", Body=lines)
    header: dict[str, Any] = {"CSV": {"FileHeaderInfo": "USE"}}
    found = _selected(
        s3,
        bucket,
        "people.csv",
        "SELECT s.name, s.city FROM S3Object s WHERE CAST(s.age AS INT) > 26",
        InputSerialization=header,
        OutputSerialization={"CSV": {}},
    )
    assert found == b"Alice,Paris\nEve,Nice\n"
    found = _selected(
        s3,
        bucket,
        "lines.json",
        "SELECT s.n, s.v * 2 AS twice FROM S3Object s WHERE s.v >= 5",
        InputSerialization={"JSON": {"Type": "LINES"}},
        OutputSerialization={"JSON": {}},
        RequestProgress={"Enabled": True},
    )
    assert found == b'{"n":"b","twice":10}\n{"n":"c","twice":18}\n'
    found = _selected(
        s3,
        bucket,
        "people.csv.gz",
        "SELECT COUNT(*), MAX(CAST(s.age AS INT)) FROM S3Object s",
        InputSerialization={**header, "CompressionType": "GZIP"},
        OutputSerialization={"CSV": {}},
    )
    assert found == b"3,41\n"
    # Decision 0257: a top-level array spread by S3Object[*], a wildcard in the projection.
    s3.put_object(
        Bucket=bucket, Key="doc.json", Body=b'[{"id":1,"t":[{"k":"x"},{"k":"y"}]},{"id":2}]'
    )
    found = _selected(
        s3,
        bucket,
        "doc.json",
        "SELECT s.id, s.t[*].k AS keys FROM S3Object[*] s",
        InputSerialization={"JSON": {"Type": "DOCUMENT"}},
        OutputSerialization={"JSON": {}},
    )
    assert found == b'{"id":1,"keys":["x","y"]}\n{"id":2}\n'
    with pytest.raises(ClientError) as refused:
        _selected(
            s3,
            bucket,
            "people.csv",
            "SELECT s.name FROM S3Object s WHERE",
            InputSerialization=header,
            OutputSerialization={"CSV": {}},
        )
    assert error_code(refused) == "ParseExpectedExpression"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
