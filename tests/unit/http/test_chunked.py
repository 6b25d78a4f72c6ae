"""aws-chunked decoding against AWS's published streaming examples, botocore, and split points."""

from __future__ import annotations

import base64
import hashlib
import io
import itertools
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import boto3
import crc32c
import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.compat import HTTPHeaders
from botocore.config import Config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from andromede.http.chunked import AwsChunkedDecoder
from andromede.http.sigv4 import (
    STREAMING_PAYLOAD,
    STREAMING_PAYLOAD_TRAILER,
    STREAMING_UNSIGNED_PAYLOAD_TRAILER,
    SigningContext,
    SigV4Error,
    parse_authentication,
    verify,
)
from support.awschunked import encode_signed

# --------------------------------------------------------------------------- AWS's examples
# "Signature Calculations for the Authorization Header: Transferring Payload in Multiple Chunks"
# and "Signature calculations for trailing headers (chunked uploads)", Amazon S3 API Reference.

DOC_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
PAYLOAD = b"a" * 66560


def _doc_context(mode: str, seed: str, signed: str, extra: dict[str, str]) -> SigningContext:
    """The seed signature of the docs' PUT /examplebucket/chunkObject.txt, verified for real."""
    headers = {
        "host": "s3.amazonaws.com",
        "x-amz-date": "20130524T000000Z",
        "x-amz-storage-class": "REDUCED_REDUNDANCY",
        "x-amz-content-sha256": mode,
        "content-encoding": "aws-chunked",
        "x-amz-decoded-content-length": "66560",
        **extra,
        "authorization": "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
        f"aws4_request,SignedHeaders={signed},Signature={seed}",
    }
    path = "/examplebucket/chunkObject.txt"
    claim = parse_authentication("PUT", path, "", headers)
    assert claim is not None
    return verify(
        claim, DOC_SECRET, method="PUT", raw_path=path, raw_query="", headers=headers,
        region="us-east-1", now=datetime(2013, 5, 24, tzinfo=UTC), clock_skew=900,
        max_presign_expiry=604800,
    )  # fmt: skip


DOC_CONTEXT = _doc_context(
    STREAMING_PAYLOAD,
    "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
    "content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;"
    "x-amz-decoded-content-length;x-amz-storage-class",
    {"content-length": "66824"},
)
DOC_BODY = (
    b"10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n"
    + b"a" * 65536
    + b"\r\n400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"
    b"\r\n" + b"a" * 1024 + b"\r\n"
    b"0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n"
)

TRAILER_CONTEXT = _doc_context(
    STREAMING_PAYLOAD_TRAILER,
    "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e",
    "content-encoding;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;"
    "x-amz-storage-class;x-amz-trailer",
    {"x-amz-trailer": "x-amz-checksum-crc32c"},
)
TRAILER_BODY = (
    b"10000;chunk-signature=b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2\r\n"
    + b"a" * 65536
    + b"\r\n400;chunk-signature=1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7"
    b"\r\n" + b"a" * 1024 + b"\r\n"
    b"0;chunk-signature=2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992\r\n"
    b"x-amz-checksum-crc32c:sOO8/Q==\r\n"
    b"x-amz-trailer-signature:d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n"
    b"\r\n"
)


async def _source(pieces: Sequence[bytes]) -> AsyncIterator[bytes]:
    for piece in pieces:
        yield piece


async def _decode(decoder: AwsChunkedDecoder, *pieces: bytes) -> bytes:
    return b"".join([piece async for piece in decoder.decode(_source(pieces))])


def _doc_decoder(**kwargs: Any) -> AwsChunkedDecoder:
    return AwsChunkedDecoder(STREAMING_PAYLOAD, DOC_CONTEXT, **kwargs)


def _trailer_decoder(**kwargs: Any) -> AwsChunkedDecoder:
    return AwsChunkedDecoder(STREAMING_PAYLOAD_TRAILER, TRAILER_CONTEXT, **kwargs)


async def test_aws_multiple_chunks_example() -> None:
    assert len(DOC_BODY) == 66824  # the Content-Length of the docs' request
    decoder = _doc_decoder(decoded_length=66560)
    assert await _decode(decoder, DOC_BODY) == PAYLOAD
    assert decoder.trailers == {}


async def test_aws_trailing_headers_example() -> None:
    decoder = _trailer_decoder()
    assert await _decode(decoder, TRAILER_BODY) == PAYLOAD
    assert decoder.trailers == {"x-amz-checksum-crc32c": "sOO8/Q=="}
    assert base64.b64encode(crc32c.crc32c(PAYLOAD).to_bytes(4, "big")) == b"sOO8/Q=="


async def test_trailers_without_final_empty_line_or_with_a_blank_before_them() -> None:
    assert await _decode(_trailer_decoder(), TRAILER_BODY[:-2]) == PAYLOAD
    zero = TRAILER_BODY.index(b"x-amz-checksum")
    spaced = TRAILER_BODY[:zero] + b"\r\n" + TRAILER_BODY[zero:]
    decoder = _trailer_decoder()
    assert await _decode(decoder, spaced) == PAYLOAD
    assert decoder.trailers == {"x-amz-checksum-crc32c": "sOO8/Q=="}


def _splits(body: bytes) -> st.SearchStrategy[list[bytes]]:
    """The body cut at random points into pieces of 1 byte to 1 MiB."""
    cuts = st.lists(st.integers(min_value=1, max_value=len(body) - 1), max_size=40)
    return cuts.map(lambda points: _cut(body, sorted(set(points))))


def _cut(body: bytes, points: Sequence[int]) -> list[bytes]:
    edges = [0, *points, len(body)]
    return [body[a:b] for a, b in itertools.pairwise(edges)]


FEW = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FEW
@given(pieces=_splits(DOC_BODY))
async def test_split_anywhere_signed(pieces: list[bytes]) -> None:
    assert await _decode(_doc_decoder(decoded_length=66560), *pieces) == PAYLOAD


@FEW
@given(pieces=_splits(TRAILER_BODY))
async def test_split_anywhere_signed_trailer(pieces: list[bytes]) -> None:
    decoder = _trailer_decoder()
    assert await _decode(decoder, *pieces) == PAYLOAD
    assert decoder.trailers == {"x-amz-checksum-crc32c": "sOO8/Q=="}


async def test_source_of_single_bytes() -> None:
    pieces = [TRAILER_BODY[i : i + 1] for i in range(len(TRAILER_BODY))]
    assert await _decode(_trailer_decoder(), *pieces) == PAYLOAD


# --------------------------------------------------------------------------- botocore's wire


class _NoBody:
    def stream(self, **_: Any) -> Iterator[bytes]:
        return iter([b""])


def _botocore_upload(data: bytes, algorithm: str) -> tuple[dict[str, str], bytes]:
    """Headers and body botocore sends for a streaming PutObject with a trailing checksum."""
    client = boto3.client(
        "s3", endpoint_url="https://localhost:9000", region_name="eu-west-3",
        aws_access_key_id="AKID", aws_secret_access_key="secret",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )  # fmt: skip
    sent: list[AWSPreparedRequest] = []

    def before_send(request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        sent.append(request)
        return AWSResponse(request.url, 200, HTTPHeaders(), _NoBody())

    hook: Callable[..., None] = before_send  # type: ignore[assignment]  # a hook may answer
    client.meta.events.register("before-send.s3", hook)
    client.put_object(Bucket="b", Key="k", Body=io.BytesIO(data), ChecksumAlgorithm=algorithm)  # type: ignore[arg-type]
    request = sent[-1]
    headers = {
        name.lower(): value.decode() if isinstance(value, bytes) else value
        for name, value in request.headers.items()
    }
    stream = request.body
    body = stream if isinstance(stream, bytes) else stream.read()  # type: ignore[union-attr]
    assert isinstance(body, bytes)
    return headers, body


@pytest.mark.parametrize("size", [0, 1, 65536, 1024 * 1024 + 17])
async def test_botocore_unsigned_trailer_upload(size: int) -> None:
    data = hashlib.sha256(b"seed").digest() * (size // 32) + b"z" * (size % 32)
    headers, body = _botocore_upload(data, "CRC32C")
    assert headers["x-amz-content-sha256"] == STREAMING_UNSIGNED_PAYLOAD_TRAILER
    assert headers["content-encoding"] == "aws-chunked"
    decoder = AwsChunkedDecoder(
        STREAMING_UNSIGNED_PAYLOAD_TRAILER, None,
        decoded_length=int(headers["x-amz-decoded-content-length"]),
    )  # fmt: skip
    pieces = _cut(body, range(7, len(body), 4093))
    assert await _decode(decoder, *pieces) == data
    expected = base64.b64encode(crc32c.crc32c(data).to_bytes(4, "big")).decode()
    assert decoder.trailers == {headers["x-amz-trailer"]: expected}


# --------------------------------------------------------------------------- signed streams


@FEW
@given(
    data=st.binary(max_size=5000),
    chunk_size=st.integers(min_value=1, max_value=2048),
    cuts=st.lists(st.integers(min_value=1, max_value=20000), max_size=20),
)
async def test_signed_round_trip(data: bytes, chunk_size: int, cuts: list[int]) -> None:
    body = encode_signed(data, chunk_size, TRAILER_CONTEXT, {"x-amz-checksum-sha256": "abc="})
    pieces = _cut(body, sorted({c for c in cuts if c < len(body)}))
    decoder = _trailer_decoder(decoded_length=len(data))
    assert await _decode(decoder, *pieces) == data
    assert decoder.trailers == {"x-amz-checksum-sha256": "abc="}


# --------------------------------------------------------------------------- failures


async def _error(decoder: AwsChunkedDecoder, *pieces: bytes) -> SigV4Error:
    with pytest.raises(SigV4Error) as info:
        await _decode(decoder, *pieces)
    return info.value


async def test_tampered_data_is_refused_before_it_is_yielded() -> None:
    body = bytearray(DOC_BODY)
    body[100] = ord("b")
    yielded: list[bytes] = []
    with pytest.raises(SigV4Error) as info:
        async for piece in _doc_decoder().decode(_source([bytes(body)])):
            yielded.append(piece)
    assert info.value.code == "SignatureDoesNotMatch"
    assert yielded == []
    assert info.value.details["StringToSign"].startswith("AWS4-HMAC-SHA256-PAYLOAD\n")


async def test_chunks_do_not_verify_against_another_seed() -> None:
    error = await _error(AwsChunkedDecoder(STREAMING_PAYLOAD, TRAILER_CONTEXT), DOC_BODY)
    assert error.code == "SignatureDoesNotMatch"


async def test_reordered_chunks_are_refused() -> None:
    first_end = DOC_BODY.index(b"\r\n400;") + 2
    second_end = DOC_BODY.index(b"0;chunk-signature")
    reordered = DOC_BODY[first_end:second_end] + DOC_BODY[:first_end] + DOC_BODY[second_end:]
    assert (await _error(_doc_decoder(), reordered)).code == "SignatureDoesNotMatch"


async def test_tampered_trailer_is_refused() -> None:
    body = TRAILER_BODY.replace(b"sOO8/Q==", b"AAAAAA==")
    assert (await _error(_trailer_decoder(), body)).code == "SignatureDoesNotMatch"


async def test_missing_trailer_signature() -> None:
    end = TRAILER_BODY.index(b"x-amz-trailer-signature")
    error = await _error(_trailer_decoder(), TRAILER_BODY[:end] + b"\r\n")
    assert (error.code, error.message) == (
        "IncompleteBody",
        "The request body terminated unexpectedly",
    )


@pytest.mark.parametrize(
    "cut", [0, 1, 10, 90, 91, 5000, 65625, 65626, 65627, 65720, 66700, len(DOC_BODY) - 3]
)
async def test_truncated_stream(cut: int) -> None:
    assert (await _error(_doc_decoder(), DOC_BODY[:cut])).code == "IncompleteBody"


async def test_final_empty_line_is_optional() -> None:
    assert await _decode(_doc_decoder(), DOC_BODY[:-2]) == PAYLOAD


@pytest.mark.parametrize("cut", [66700, len(TRAILER_BODY) - 60, len(TRAILER_BODY) - 5])
async def test_truncated_trailer_stream(cut: int) -> None:
    assert (await _error(_trailer_decoder(), TRAILER_BODY[:cut])).code == "IncompleteBody"


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"zz;chunk-signature=" + b"0" * 64 + b"\r\n", id="bad-size"),
        pytest.param(b"10000\r\n" + b"a" * 65536 + b"\r\n", id="no-signature"),
        pytest.param(b"10000;chunk-signature=abc\r\n", id="short-signature"),
        pytest.param(b"1" * 5000, id="endless-line"),
        pytest.param(DOC_BODY.replace(b"a\r\n400", b"aXX400"), id="missing-crlf"),
        pytest.param(DOC_BODY + b"junk", id="trailing-junk"),
    ],
)
async def test_malformed_framing(body: bytes) -> None:
    error = await _error(_doc_decoder(), body)
    assert (error.code, error.message) == (
        "IncompleteBody",
        "The request body terminated unexpectedly",
    )


async def test_chunk_larger_than_the_limit() -> None:
    error = await _error(_doc_decoder(max_chunk_size=1024), DOC_BODY)
    assert error.code == "InvalidRequest"


@pytest.mark.parametrize("declared", [66559, 66561, 0])
async def test_decoded_length_must_match(declared: int) -> None:
    assert (await _error(_doc_decoder(decoded_length=declared), DOC_BODY)).code == "IncompleteBody"


async def test_too_many_trailers() -> None:
    zero = TRAILER_BODY.index(b"x-amz-checksum")
    body = TRAILER_BODY[:zero] + b"x-a:b\r\n" * 5000 + TRAILER_BODY[zero:]
    assert (await _error(_trailer_decoder(), body)).code == "InvalidRequest"


@settings(max_examples=200, deadline=None)
@given(garbage=st.binary(max_size=300), mode=st.sampled_from([0, 1, 2]))
async def test_garbage_ends_in_an_s3_error(garbage: bytes, mode: int) -> None:
    decoder = [_doc_decoder(), _trailer_decoder(),
               AwsChunkedDecoder(STREAMING_UNSIGNED_PAYLOAD_TRAILER, None)][mode]  # fmt: skip
    try:
        await _decode(decoder, garbage[:7], garbage[7:])
    except SigV4Error as error:
        assert error.code in {"IncompleteBody", "SignatureDoesNotMatch", "InvalidRequest"}


def test_constructor_rejects_bad_modes() -> None:
    with pytest.raises(ValueError, match="not an aws-chunked mode"):
        AwsChunkedDecoder("UNSIGNED-PAYLOAD", DOC_CONTEXT)
    with pytest.raises(ValueError, match="signing context"):
        AwsChunkedDecoder(STREAMING_PAYLOAD, None)
