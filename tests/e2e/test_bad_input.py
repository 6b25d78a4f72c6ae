"""Hostile input against a real ``andromede serve``: the table of the "Bad input" issue item.

Each row sends one broken or forbidden request and names the HTTP status and S3 error code S3
answers with. Every row then checks the rules that hold for all bad input: the answer is S3's XML
error (Code, Message, Resource, RequestId, and an ``x-amz-request-id`` header equal to the
RequestId), never a 500 nor a hang (10 s socket timeouts), and data already stored is untouched
(a sentinel object reads back byte-identical and the bucket listing is unchanged). Requests are
sent with :mod:`support.rawclient` so they can be broken on purpose; boto3 only prepares state.
"""

from __future__ import annotations

import base64
import hashlib
import os
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from support.rawclient import (
    UNSIGNED_PAYLOAD,
    RawClient,
    RawResponse,
    boto3_client_for,
    raw_client_for,
    sha256_hex,
)
from support.server import REGION, ServerProcess, running_server

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.e2e


def assert_s3_error(response: RawResponse, status: int, code: str) -> str:
    """The response is S3's error document for ``code``; returns its message."""
    assert response.status == status, (response.status, response.body[:500])
    error = response.error()
    assert error.code == code, (error.code, error.message)
    assert error.message, "an S3 error carries a Message"
    assert error.resource is not None, "an S3 error carries a Resource"
    assert error.request_id, "an S3 error carries a RequestId"
    assert response.header("x-amz-request-id") == error.request_id
    return error.message


def content_md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()  # noqa: S324 - S3's Content-MD5


_LIFECYCLE_ZERO_DAYS = (
    b"<LifecycleConfiguration><Rule><Filter/><Status>Enabled</Status><Expiration><Days>0"
    b"</Days></Expiration></Rule></LifecycleConfiguration>"
)
_LIFECYCLE_TRANSITION = (
    b"<LifecycleConfiguration><Rule><Filter/><Status>Enabled</Status><Transition><Days>30"
    b"</Days><StorageClass>GLACIER</StorageClass></Transition></Rule></LifecycleConfiguration>"
)
_WEBSITE_NO_INDEX = (
    b"<WebsiteConfiguration><ErrorDocument><Key>e.html</Key></ErrorDocument></WebsiteConfiguration>"
)
_CORS_TRACE = (
    b"<CORSConfiguration><CORSRule><AllowedMethod>TRACE</AllowedMethod>"
    b"<AllowedOrigin>*</AllowedOrigin></CORSRule></CORSConfiguration>"
)


@dataclass(frozen=True)
class World:
    """A bucket holding a sentinel and a few fixtures, and its listing when the table starts."""

    raw: RawClient
    s3: S3Client
    bucket: str
    sentinel: bytes
    listing: tuple[tuple[str, str, int], ...]

    def path(self, key: str | None = None, bucket: str | None = None) -> str:
        return f"/{bucket or self.bucket}" + (f"/{key}" if key is not None else "")

    def current_listing(self) -> tuple[tuple[str, str, int], ...]:
        page = self.s3.list_objects_v2(Bucket=self.bucket)
        return tuple((o["Key"], o["ETag"], o["Size"]) for o in page.get("Contents", []))

    def upload(self, key: str, parts: list[bytes]) -> tuple[str, list[str]]:
        """A multipart upload with ``parts`` uploaded: (upload id, part ETags)."""
        upload_id = self.s3.create_multipart_upload(Bucket=self.bucket, Key=key)["UploadId"]
        etags = [
            self.s3.upload_part(
                Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=n, Body=data
            )["ETag"]
            for n, data in enumerate(parts, start=1)
        ]
        return upload_id, etags


@pytest.fixture(scope="module")
def world(server: ServerProcess) -> World:
    s3 = boto3_client_for(server)
    bucket = f"bad-input-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    sentinel = os.urandom(100_000)
    s3.put_object(Bucket=bucket, Key="sentinel", Body=sentinel)
    s3.put_object(Bucket=bucket, Key="ten", Body=b"0123456789")
    s3.put_object(Bucket=bucket, Key="dir/child", Body=b"child")
    w = World(raw_client_for(server), s3, bucket, sentinel, ())
    return World(w.raw, s3, bucket, sentinel, w.current_listing())


def check_unchanged(world: World) -> None:
    got = world.raw.request("GET", world.path("sentinel"))
    assert got.status == 200, got.body[:300]
    assert got.body == world.sentinel
    assert world.current_listing() == world.listing


# -- the rows ------------------------------------------------------------------------------------
def _complete_xml(parts: list[tuple[int, str]]) -> bytes:
    inner = "".join(f"<Part><PartNumber>{n}</PartNumber><ETag>{e}</ETag></Part>" for n, e in parts)
    return f"<CompleteMultipartUpload>{inner}</CompleteMultipartUpload>".encode()


def _delete_xml(keys: list[str]) -> bytes:
    inner = "".join(f"<Object><Key>{k}</Key></Object>" for k in keys)
    return f"<Delete>{inner}</Delete>".encode()


def _post_delete(w: World, body: bytes) -> RawResponse:
    return w.raw.request("POST", w.path(), "delete", {"Content-MD5": content_md5(body)}, body)


_BOMB = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">'.encode()
        for i in range(1, 10)
    )
    + b"]><Delete><Object><Key>&lol9;</Key></Object></Delete>"
)
_EXTERNAL_ENTITY = (
    b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b"<Delete><Object><Key>&x;</Key></Object></Delete>"
)


def _complete(w: World, key: str, upload_id: str, body: bytes) -> RawResponse:
    return w.raw.request("POST", w.path(key), f"uploadId={upload_id}", body=body)


def _malformed_complete(w: World) -> RawResponse:
    upload_id, _ = w.upload("mp-malformed", [b"part"])
    return _complete(w, "mp-malformed", upload_id, b"<CompleteMultipartUpload><Part>")


def _create_bucket_malformed(w: World) -> RawResponse:
    name = f"never-{uuid.uuid4().hex[:12]}"
    response = w.raw.request("PUT", f"/{name}", body=b"<CreateBucketConfiguration><Location")
    assert w.raw.request("HEAD", f"/{name}").status == 404, "a refused bucket must not exist"
    return response


def _location_constraint(w: World, constraint: str) -> RawResponse:
    name = f"never-{uuid.uuid4().hex[:12]}"
    body = (
        "<CreateBucketConfiguration><LocationConstraint>"
        f"{constraint}</LocationConstraint></CreateBucketConfiguration>"
    ).encode()
    response = w.raw.request("PUT", f"/{name}", body=body)
    assert w.raw.request("HEAD", f"/{name}").status == 404, "a refused bucket must not exist"
    return response


def _parts_out_of_order(w: World) -> RawResponse:
    upload_id, etags = w.upload("mp-order", [b"a" * 5, b"b" * 5])
    return _complete(w, "mp-order", upload_id, _complete_xml([(2, etags[1]), (1, etags[0])]))


def _unknown_part(w: World) -> RawResponse:
    upload_id, etags = w.upload("mp-unknown", [b"a" * 5])
    return _complete(w, "mp-unknown", upload_id, _complete_xml([(2, etags[0])]))


def _wrong_etag(w: World) -> RawResponse:
    upload_id, _ = w.upload("mp-etag", [b"a" * 5])
    wrong = '"' + hashlib.md5(b"other").hexdigest() + '"'  # noqa: S324
    return _complete(w, "mp-etag", upload_id, _complete_xml([(1, wrong)]))


def _small_part(w: World) -> RawResponse:
    upload_id, etags = w.upload("mp-small", [b"a" * 100, b"b" * 100])
    return _complete(w, "mp-small", upload_id, _complete_xml([(1, etags[0]), (2, etags[1])]))


def _part_number(w: World, number: int) -> RawResponse:
    upload_id, _ = w.upload("mp-number", [])
    return w.raw.request(
        "PUT", w.path("mp-number"), f"partNumber={number}&uploadId={upload_id}", body=b"data"
    )


def _wrong_crc32(w: World) -> RawResponse:
    wrong = base64.b64encode(zlib.crc32(b"not the body").to_bytes(4, "big")).decode()
    return w.raw.request(
        "PUT", w.path("crc"), headers={"x-amz-checksum-crc32": wrong}, body=b"body"
    )


def _chunked_without_length(w: World) -> RawResponse:
    stream = w.raw.open_signed("PUT", w.path("chunked"), content_length=None, chunked=True)
    try:
        stream.send(b"5\r\nhello\r\n0\r\n\r\n")
    except OSError:
        pass  # the server may answer and close before reading the body
    return stream.response()


def _expired_presigned(w: World) -> RawResponse:
    target = w.raw.presign(
        "GET", w.path("sentinel"), expires=60, when=datetime.now(UTC) - timedelta(hours=2)
    )
    return w.raw.get_target(target)


def _copy(w: World, key: str, source: str, extra: dict[str, str] | None = None) -> RawResponse:
    headers = {"x-amz-copy-source": f"/{w.bucket}/{source}", **(extra or {})}
    return w.raw.request("PUT", w.path(key), headers=headers)


@dataclass(frozen=True)
class Case:
    name: str
    status: int
    codes: tuple[str, ...]
    send: Callable[[World], RawResponse]
    message_has: str | None = None


def _row(
    name: str,
    status: int,
    code: str | tuple[str, ...],
    send: Callable[[World], RawResponse],
    message_has: str | None = None,
) -> Case:
    return Case(name, status, (code,) if isinstance(code, str) else code, send, message_has)


def _create_bucket(name: str) -> Callable[[World], RawResponse]:
    return lambda w: w.raw.request("PUT", f"/{name}")


CASES: list[Case] = [
    # -- XML bodies ---------------------------------------------------------------------------
    _row(
        "delete-objects-malformed-xml",
        400,
        "MalformedXML",
        lambda w: _post_delete(w, b"<Delete><Object><Key>sentinel</Key>"),
    ),
    _row("complete-malformed-xml", 400, "MalformedXML", _malformed_complete),
    _row("create-bucket-malformed-xml", 400, "MalformedXML", _create_bucket_malformed),
    _row("xml-bomb", 400, "MalformedXML", lambda w: _post_delete(w, _BOMB)),
    _row("xml-external-entity", 400, "MalformedXML", lambda w: _post_delete(w, _EXTERNAL_ENTITY)),
    _row(
        "delete-objects-1001-keys",
        400,
        "MalformedXML",
        lambda w: _post_delete(w, _delete_xml(["sentinel"] + [f"k{i}" for i in range(1000)])),
    ),
    # -- names and sizes ------------------------------------------------------------------------
    *(
        _row(
            f"bucket-name-{label}",
            400,
            "InvalidBucketName",
            _create_bucket(name),
        )
        for label, name in [
            ("upper", "AB"),
            ("one-char", "a"),
            ("leading-dash", "-abc"),
            ("ip-address", "192.168.1.1"),
            ("double-dot", "a..b"),
            ("64-chars", "b" * 64),
        ]
    ),
    _row(
        "key-1025-bytes",
        400,
        "KeyTooLongError",
        lambda w: w.raw.request("PUT", w.path("k" * 1025), body=b"x"),
    ),
    _row(
        "metadata-over-2k",
        400,
        "MetadataTooLarge",
        lambda w: w.raw.request(
            "PUT", w.path("meta"), headers={"x-amz-meta-big": "v" * 2100}, body=b"x"
        ),
    ),
    _row(
        "range-not-satisfiable",
        416,
        "InvalidRange",
        lambda w: w.raw.request("GET", w.path("ten"), headers={"Range": "bytes=100-"}),
    ),
    # -- bodies and digests ---------------------------------------------------------------------
    _row("chunked-without-length", 411, "MissingContentLength", _chunked_without_length),
    _row(
        "content-md5-wrong",
        400,
        "BadDigest",
        lambda w: w.raw.request(
            "PUT", w.path("md5"), headers={"Content-MD5": content_md5(b"other")}, body=b"body"
        ),
    ),
    _row(
        "content-md5-not-base64",
        400,
        "InvalidDigest",
        lambda w: w.raw.request(
            "PUT", w.path("md5"), headers={"Content-MD5": "not base64 !!"}, body=b"body"
        ),
    ),
    _row(
        "content-sha256-mismatch",
        400,
        "XAmzContentSHA256Mismatch",
        lambda w: w.raw.request(
            "PUT", w.path("sha"), body=b"body", payload_hash=sha256_hex(b"other")
        ),
    ),
    _row("checksum-crc32-wrong", 400, "BadDigest", _wrong_crc32, message_has="CRC32"),
    # -- multipart ------------------------------------------------------------------------------
    _row("complete-parts-out-of-order", 400, "InvalidPartOrder", _parts_out_of_order),
    _row("complete-unknown-part", 400, "InvalidPart", _unknown_part),
    _row("complete-wrong-etag", 400, "InvalidPart", _wrong_etag),
    _row("complete-small-part", 400, "EntityTooSmall", _small_part),
    _row(
        "upload-part-no-such-upload",
        404,
        "NoSuchUpload",
        lambda w: w.raw.request("PUT", w.path("mp"), "partNumber=1&uploadId=nope", body=b"x"),
    ),
    _row(
        "complete-no-such-upload",
        404,
        "NoSuchUpload",
        lambda w: _complete(w, "mp", "nope", _complete_xml([(1, '"abc"')])),
    ),
    _row(
        "abort-no-such-upload",
        404,
        "NoSuchUpload",
        lambda w: w.raw.request("DELETE", w.path("mp"), "uploadId=nope"),
    ),
    _row(
        "list-parts-no-such-upload",
        404,
        "NoSuchUpload",
        lambda w: w.raw.request("GET", w.path("mp"), "uploadId=nope"),
    ),
    _row("part-number-0", 400, "InvalidArgument", lambda w: _part_number(w, 0)),
    _row("part-number-10001", 400, "InvalidArgument", lambda w: _part_number(w, 10001)),
    # -- authentication -------------------------------------------------------------------------
    _row(
        "bad-signature",
        403,
        "SignatureDoesNotMatch",
        lambda w: w.raw.request("GET", w.path("sentinel"), secret_key="not-the-secret"),
    ),
    _row(
        "unknown-access-key",
        403,
        "InvalidAccessKeyId",
        lambda w: w.raw.request("GET", w.path("sentinel"), access_key="AKIANOSUCHKEY0000000"),
    ),
    _row(
        "clock-skew-20-minutes",
        403,
        "RequestTimeTooSkewed",
        lambda w: w.raw.request(
            "GET", w.path("sentinel"), when=datetime.now(UTC) - timedelta(minutes=20)
        ),
    ),
    _row(
        "signed-for-us-east-1",
        400,
        "AuthorizationHeaderMalformed",
        lambda w: w.raw.request("GET", w.path("sentinel"), region="us-east-1"),
        message_has=REGION,
    ),
    _row("presigned-expired", 403, "AccessDenied", _expired_presigned),
    _row(
        "anonymous-get",
        403,
        "AccessDenied",
        lambda w: w.raw.request("GET", w.path("sentinel"), sign=False),
    ),
    # -- operations not implemented, and versioning (decision 0097) -----------------------------
    _row(
        "get-object-torrent",
        501,
        "NotImplemented",
        lambda w: w.raw.request("GET", w.path("ten"), "torrent"),
    ),
    _row(
        # Implemented since decision 0097: a status S3 does not know is malformed, and the
        # bucket stays never versioned (the cases after this one share it).
        "put-bucket-versioning-unknown-status",
        400,
        "MalformedXML",
        lambda w: w.raw.request(
            "PUT",
            w.path(),
            "versioning",
            body=b"<VersioningConfiguration><Status>Maybe</Status></VersioningConfiguration>",
        ),
    ),
    # -- CORS, PostObject, attributes, versions (decisions 0076 to 0079) -----------------------
    _row(
        "cors-unsupported-method",
        400,
        "InvalidRequest",
        lambda w: w.raw.request(
            "PUT",
            w.path(),
            "cors",
            headers={"Content-MD5": content_md5(_CORS_TRACE)},
            body=_CORS_TRACE,
        ),
    ),
    _row(
        "cors-preflight-without-method",
        400,
        "BadRequest",
        lambda w: w.raw.request(
            "OPTIONS", w.path("ten"), headers={"Origin": "https://a.example"}, sign=False
        ),
    ),
    _row(
        "post-object-not-a-form",
        412,
        "PreconditionFailed",
        lambda w: w.raw.request(
            "POST", w.path(), headers={"Content-Type": "text/plain"}, body=b"key=x", sign=False
        ),
    ),
    _row(
        "post-object-garbled-form",
        400,
        "MalformedPOSTRequest",
        lambda w: w.raw.request(
            "POST",
            w.path(),
            headers={"Content-Type": "multipart/form-data; boundary=b"},
            body=b"--b\r\nnot a header line at all\r\n\r\nx\r\n--b--\r\n",
            sign=False,
        ),
    ),
    _row(
        "object-attributes-unknown",
        400,
        "InvalidArgument",
        lambda w: w.raw.request(
            "GET", w.path("ten"), "attributes", headers={"x-amz-object-attributes": "Owner"}
        ),
    ),
    _row(
        "versions-marker-without-key",
        400,
        "InvalidArgument",
        lambda w: w.raw.request("GET", w.path(), "versions&version-id-marker=null"),
    ),
    # -- static websites (decision 0081) ---------------------------------------------------------
    _row(
        "website-without-index-document",
        400,
        "InvalidArgument",
        lambda w: w.raw.request(
            "PUT",
            w.path(),
            "website",
            headers={"Content-MD5": content_md5(_WEBSITE_NO_INDEX)},
            body=_WEBSITE_NO_INDEX,
        ),
    ),
    _row(
        "website-redirect-not-a-path",
        400,
        "InvalidRedirectLocation",
        lambda w: w.raw.request(
            "PUT",
            w.path("redirected"),
            headers={"x-amz-website-redirect-location": "elsewhere.html"},
            body=b"x",
        ),
    ),
    # -- server access logging (decision 0084) ---------------------------------------------------
    _row(
        "logging-target-missing",
        400,
        "InvalidTargetBucketForLogging",
        lambda w: w.raw.request(
            "PUT",
            w.path(),
            "logging",
            body=b"<BucketLoggingStatus><LoggingEnabled><TargetBucket>no-such-target-bucket"
            b"</TargetBucket><TargetPrefix>l/</TargetPrefix></LoggingEnabled>"
            b"</BucketLoggingStatus>",
        ),
    ),
    # -- lifecycle (decision 0082) ----------------------------------------------------------------
    _row(
        "lifecycle-days-not-positive",
        400,
        "InvalidArgument",
        lambda w: w.raw.request(
            "PUT",
            w.path(),
            "lifecycle",
            headers={"Content-MD5": content_md5(_LIFECYCLE_ZERO_DAYS)},
            body=_LIFECYCLE_ZERO_DAYS,
        ),
    ),
    _row(
        "lifecycle-transition",
        501,
        "NotImplemented",
        lambda w: w.raw.request(
            "PUT",
            w.path(),
            "lifecycle",
            headers={"Content-MD5": content_md5(_LIFECYCLE_TRANSITION)},
            body=_LIFECYCLE_TRANSITION,
        ),
    ),
    _row(
        "get-object-legal-hold",
        400,
        "InvalidRequest",
        lambda w: w.raw.request("GET", w.path("ten"), "legal-hold"),
    ),
    # -- object tags (decision 0068) ------------------------------------------------------------
    _row(
        "object-tags-eleven",
        400,
        "BadRequest",
        lambda w: w.raw.request(
            "PUT",
            w.path("tagged"),
            body=b"x",
            headers={"x-amz-tagging": "&".join(f"k{i}=v" for i in range(11))},
        ),
    ),
    _row(
        "object-tags-duplicate-key",
        400,
        "InvalidArgument",
        lambda w: w.raw.request(
            "PUT", w.path("tagged"), body=b"x", headers={"x-amz-tagging": "a=1&a=2"}
        ),
    ),
    _row(
        "object-tags-not-utf8",
        400,
        "InvalidArgument",
        lambda w: w.raw.request(
            "PUT", w.path("tagged"), body=b"x", headers={"x-amz-tagging": "a=%C3%28"}
        ),
    ),
    _row(
        "object-tagging-without-md5",
        400,
        "InvalidRequest",
        lambda w: w.raw.request(
            "PUT",
            w.path("ten"),
            "tagging",
            body=b"<Tagging><TagSet><Tag><Key>a</Key><Value>b</Value></Tag></TagSet></Tagging>",
        ),
    ),
    _row(
        "object-tagging-missing-key",
        404,
        "NoSuchKey",
        lambda w: w.raw.request("GET", w.path("no-such-object"), "tagging"),
    ),
    _row(
        "select-object-content-not-a-request",
        400,
        "MalformedXML",
        lambda w: w.raw.request("POST", w.path("ten"), "select&select-type=2", body=b"<x/>"),
    ),
    # -- bucket configuration ---------------------------------------------------------------------
    # AWS answers IllegalLocationConstraintException for a real region that is not the
    # endpoint's, InvalidLocationConstraint for a name that is no region at all.
    _row(
        "location-constraint-us-west-2",
        400,
        ("InvalidLocationConstraint", "IllegalLocationConstraintException"),
        lambda w: _location_constraint(w, "us-west-2"),
    ),
    # -- listing arguments ----------------------------------------------------------------------
    _row(
        "max-keys-not-a-number",
        400,
        "InvalidArgument",
        lambda w: w.raw.request("GET", w.path(), "list-type=2&max-keys=abc"),
    ),
    _row(
        "max-keys-negative",
        400,
        "InvalidArgument",
        lambda w: w.raw.request("GET", w.path(), "max-keys=-1"),
    ),
    _row(
        "continuation-token-invalid",
        400,
        "InvalidArgument",
        lambda w: w.raw.request("GET", w.path(), "continuation-token=bm90LWEtdG9rZW4&list-type=2"),
    ),
    _row(
        "encoding-type-foo",
        400,
        "InvalidArgument",
        lambda w: w.raw.request("GET", w.path(), "encoding-type=foo"),
    ),
    # -- copies ---------------------------------------------------------------------------------
    _row("copy-to-itself", 400, "InvalidRequest", lambda w: _copy(w, "ten", "ten")),
    _row("copy-source-missing", 404, "NoSuchKey", lambda w: _copy(w, "copy", "no-such-key")),
    _row(
        "copy-source-if-match-mismatch",
        412,
        "PreconditionFailed",
        lambda w: _copy(w, "copy", "ten", {"x-amz-copy-source-if-match": '"0000"'}),
    ),
    # -- buckets --------------------------------------------------------------------------------
    _row(
        "no-such-bucket",
        404,
        "NoSuchBucket",
        lambda w: w.raw.request("GET", f"/no-such-bucket-{uuid.uuid4().hex[:8]}"),
    ),
    _row("bucket-not-empty", 409, "BucketNotEmpty", lambda w: w.raw.request("DELETE", w.path())),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_bad_input(world: World, case: Case) -> None:
    response = case.send(world)
    assert response.status != 500, response.body[:500]
    assert response.status == case.status, (response.status, response.body[:500])
    error = response.error()
    assert error.code in case.codes, (error.code, error.message)
    assert_s3_error(response, case.status, error.code)
    if case.message_has is not None:
        assert case.message_has in error.message, error.message
    check_unchanged(world)


def test_body_shorter_than_content_length_then_close(world: World) -> None:
    stream = world.raw.open_signed("PUT", world.path("truncated"), content_length=1000)
    stream.send(b"x" * 500)
    stream.close()
    # The server notices the disconnect asynchronously; the object must never appear.
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        assert world.raw.request("HEAD", world.path("truncated")).status == 404
        time.sleep(0.2)
    check_unchanged(world)


def test_body_longer_than_content_length(world: World) -> None:
    """HTTP/1.1 framing decides: exactly Content-Length bytes are the body, the rest is not.

    The extra bytes are a malformed next request on the same connection; the HTTP server may
    answer that one (a plain 400) instead of the first, so the answer is only required to be a
    client error or a success. What must hold is the stored state: no object, or exactly the
    announced bytes.
    """
    announced, extra = b"0123456789", b"GARBAGEGARBAGE"
    for payload_hash in (sha256_hex(announced + extra), UNSIGNED_PAYLOAD):
        signed = world.raw.sign("PUT", world.path("longer"), payload_hash=payload_hash)
        stream = world.raw.open("PUT", world.path("longer"), {**signed, "Content-Length": "10"})
        stream.send(announced + extra)
        response = stream.response()
        assert response.status in (200, 400), (response.status, response.body[:300])
        if response.header("content-type") == "application/xml" and response.status == 400:
            assert response.error().code == "XAmzContentSHA256Mismatch"
        time.sleep(0.2)  # let the server finish with the connection it was told to drop
        got = world.raw.request("GET", world.path("longer"))
        assert got.status in (200, 404), got.body[:300]
        if got.status == 200:
            assert payload_hash == UNSIGNED_PAYLOAD, "a payload that fails its hash was stored"
            assert got.body == announced
        world.raw.request("DELETE", world.path("longer"))
    check_unchanged(world)


def test_error_shape_of_head_is_bodyless(world: World) -> None:
    response = world.raw.request("HEAD", world.path("no-such-key"))
    assert response.status == 404
    assert response.body == b""
    assert response.header("x-amz-request-id")


# -- limits are settings ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    env = {
        "ANDROMEDE_MAX_OBJECT_SIZE": "1024",
        "ANDROMEDE_MAX_KEY_LENGTH": "16",
        "ANDROMEDE_MAX_USER_METADATA_SIZE": "64",
        "ANDROMEDE_MIN_PART_SIZE": "1024",
        "ANDROMEDE_MAX_DELETE_OBJECTS": "3",
    }
    data_dir: Path = tmp_path_factory.mktemp("limited") / "data"
    with running_server(data_dir, extra_env=env) as process:
        yield process


def test_settings_are_enforced_limits(limited: ServerProcess) -> None:
    raw = raw_client_for(limited)
    s3 = boto3_client_for(limited)
    bucket = "limits"
    s3.create_bucket(Bucket=bucket)

    assert raw.request("PUT", f"/{bucket}/at-limit", body=b"x" * 1024).status == 200
    assert_s3_error(
        raw.request("PUT", f"/{bucket}/over-limit", body=b"x" * 1025), 400, "EntityTooLarge"
    )

    assert raw.request("PUT", f"/{bucket}/{'k' * 16}", body=b"x").status == 200
    assert_s3_error(raw.request("PUT", f"/{bucket}/{'k' * 17}", body=b"x"), 400, "KeyTooLongError")

    small_meta = {"x-amz-meta-a": "v" * 10}
    assert raw.request("PUT", f"/{bucket}/meta", headers=small_meta, body=b"x").status == 200
    big_meta = {"x-amz-meta-a": "v" * 100}
    assert_s3_error(
        raw.request("PUT", f"/{bucket}/meta", headers=big_meta, body=b"x"), 400, "MetadataTooLarge"
    )

    world = World(raw, s3, bucket, b"", ())
    for first_size, expected in ((1023, "EntityTooSmall"), (1024, None)):
        key = f"mp-{first_size}"
        upload_id, etags = world.upload(key, [b"a" * first_size, b"b" * 10])
        response = _complete(world, key, upload_id, _complete_xml(list(enumerate(etags, 1))))
        if expected is None:
            assert response.status == 200, response.body[:300]
            assert raw.request("HEAD", f"/{bucket}/{key}").header("content-length") == str(
                first_size + 10
            )
        else:
            assert_s3_error(response, 400, expected)
            assert raw.request("HEAD", f"/{bucket}/{key}").status == 404

    four = _delete_xml(["at-limit", "meta", "k", "kk"])
    assert_s3_error(_post_delete(world, four), 400, "MalformedXML")
    assert raw.request("HEAD", f"/{bucket}/at-limit").status == 200, "nothing deleted"
    three = _delete_xml(["at-limit", "meta", "k"])
    response = _post_delete(world, three)
    assert response.status == 200, response.body[:300]
    assert raw.request("HEAD", f"/{bucket}/at-limit").status == 404
