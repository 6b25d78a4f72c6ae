"""An unsigned aws-chunked WriteGetObjectResponse with a trailing checksum (decision 0417),
as the SDKs send ``STREAMING-UNSIGNED-PAYLOAD-TRAILER`` with ``x-amz-trailer``: the checksum
is verified against the decoded bytes as S3 verifies PutObject's. A right one answers the
caller; a wrong one is S3's BadDigest to the function and the caller never gets those bytes
as an answer: refused before any of it was passed on, the caller gets AWS's
LambdaResponseNotReceived; a longer body's response is cut before its end. The checksums here
are computed independently (zlib, awscrt, hashlib), never with the server's hashers."""

from __future__ import annotations

import base64
import hashlib
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from awscrt import checksums

from andromede.http.sigv4 import (
    STREAMING_UNSIGNED_PAYLOAD_TRAILER,
    canonical_request,
    derive_signing_key,
    sign,
    string_to_sign,
)
from andromede.s3objectlambda.app import FunctionOutcome
from s3objectlambda.test_chunked_answer import send_raw
from s3objectlambda.test_object_lambda_app import World, signed, world
from support.s3app import REGION, Reply

__all__ = ["world"]  # the fixture, shared with the app's tests

PAYLOAD = b"HELLO OBJECT"


def _crc32(data: bytes) -> bytes:
    return zlib.crc32(data).to_bytes(4, "big")


def _crc32c(data: bytes) -> bytes:
    return checksums.crc32c(data).to_bytes(4, "big")


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


ALGORITHMS: dict[str, Callable[[bytes], bytes]] = {
    "crc32": _crc32,
    "crc32c": _crc32c,
    "sha256": _sha256,
}


def test_the_independent_checksums_are_the_published_ones() -> None:
    # The CRC catalogue's check values over "123456789" (CRC-32/ISO-HDLC, CRC-32C/ISCSI).
    assert _crc32(b"123456789").hex() == "cbf43926"
    assert _crc32c(b"123456789").hex() == "e3069283"


def _unsigned_chunks(payload: bytes, size: int, trailer: str | None) -> bytes:
    """An unsigned aws-chunked body as the SDKs frame it: chunks, the last of size 0, then
    the trailer line and an empty line."""
    pieces = [payload[i : i + size] for i in range(0, len(payload), size)]
    out = b"".join(f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in pieces) + b"0\r\n"
    return out + (b"" if trailer is None else trailer.encode() + b"\r\n") + b"\r\n"


async def trailed_answer(
    world: World,
    event: dict[str, Any],
    payload: bytes,
    announced: str,
    trailer: str | None,
    *,
    chunk: int = 64,
) -> Reply:
    """The function's WriteGetObjectResponse, its body aws-chunked and unsigned, the
    trailer ``announced`` in ``x-amz-trailer`` and ``trailer`` the line it ends with."""
    credentials = world.s3.credentials
    assert credentials is not None
    context = event["getObjectContext"]
    amz_date = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    headers = {
        "host": "127.0.0.1:9001",
        "x-amz-date": amz_date,
        "x-amz-content-sha256": STREAMING_UNSIGNED_PAYLOAD_TRAILER,
        "content-encoding": "aws-chunked",
        "x-amz-decoded-content-length": str(len(payload)),
        "x-amz-trailer": announced,
        "x-amz-request-route": context["outputRoute"],
        "x-amz-request-token": context["outputToken"],
    }
    if credentials.token:
        headers["x-amz-security-token"] = credentials.token
    names = sorted(headers)
    canonical = canonical_request("POST", "/WriteGetObjectResponse", "", headers, names,
        STREAMING_UNSIGNED_PAYLOAD_TRAILER, presigned=False)  # fmt: skip
    scope = f"{amz_date[:8]}/{REGION}/s3-object-lambda/aws4_request"
    key = derive_signing_key(credentials.secret_key, amz_date[:8], REGION, "s3-object-lambda")
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={credentials.access_key}/{scope}, "
        f"SignedHeaders={';'.join(names)}, "
        f"Signature={sign(key, string_to_sign(amz_date, scope, canonical))}"
    )
    body = _unsigned_chunks(payload, chunk, trailer)
    headers["content-length"] = str(len(body))
    return await send_raw(world.app, "POST", "/WriteGetObjectResponse", headers, body)


async def _get_through(
    world: World, answer: Callable[[dict[str, Any]], Any]
) -> tuple[Reply | None, Reply]:
    """The caller's GET (None when its response was cut) and the function's answer."""
    answers: list[Reply] = []

    async def function(event: dict[str, Any]) -> FunctionOutcome:
        answers.append(await answer(event))
        return FunctionOutcome(ok=True)

    world.handler.append(function)
    assert world.s3.credentials is not None
    try:
        reply = await signed(world.app, world.s3.credentials, "GET", world.host, "/notes.txt")
    except Exception:  # a response cut after it began surfaces as the stream's error
        return None, answers[0]
    return reply, answers[0]


@pytest.mark.parametrize("name", sorted(ALGORITHMS))
async def test_a_right_trailing_checksum_answers_the_caller(world: World, name: str) -> None:
    value = base64.b64encode(ALGORITHMS[name](PAYLOAD)).decode()
    header = f"x-amz-checksum-{name}"
    reply, answer = await _get_through(
        world, lambda event: trailed_answer(world, event, PAYLOAD, header, f"{header}:{value}")
    )
    assert answer.status == 200, answer.body
    assert reply is not None and (reply.status, reply.body) == (200, PAYLOAD)


@pytest.mark.parametrize("name", sorted(ALGORITHMS))
async def test_a_wrong_trailing_checksum_is_bad_digest_and_never_answered(
    world: World, name: str
) -> None:
    wrong = base64.b64encode(ALGORITHMS[name](b"another body")).decode()
    header = f"x-amz-checksum-{name}"
    reply, answer = await _get_through(
        world, lambda event: trailed_answer(world, event, PAYLOAD, header, f"{header}:{wrong}")
    )
    assert answer.status == 400
    assert b"<Code>BadDigest</Code>" in answer.body
    assert f"The {name.upper()} you specified did not match".encode() in answer.body
    # Refused before any byte was passed on: AWS's error for a function that did not answer.
    assert reply is not None and reply.status == 500
    assert b"<Code>LambdaResponseNotReceived</Code>" in reply.body
    assert PAYLOAD not in reply.body


async def test_a_longer_body_with_a_wrong_checksum_is_cut_before_its_end(world: World) -> None:
    wrong = base64.b64encode(_crc32(b"another body")).decode()
    trailer = f"x-amz-checksum-crc32:{wrong}"
    reply, answer = await _get_through(
        world,
        lambda event: trailed_answer(
            world, event, PAYLOAD, "x-amz-checksum-crc32", trailer, chunk=5
        ),
    )
    assert answer.status == 400 and b"<Code>BadDigest</Code>" in answer.body
    # The caller may have had its first chunks, never the whole answer.
    assert reply is None or PAYLOAD not in reply.body


@pytest.mark.parametrize(
    ("announced", "trailer", "code"),
    [
        # Not base64 of a CRC32's 4 bytes: the value is invalid, as S3 says of PutObject's.
        ("x-amz-checksum-crc32", "x-amz-checksum-crc32:not-a-crc", b"InvalidRequest"),
        # An algorithm S3 does not have.
        ("x-amz-checksum-md4", "x-amz-checksum-md4:AAAA", b"InvalidRequest"),
        # Announced, never sent.
        ("x-amz-checksum-crc32", None, b"MalformedTrailerError"),
    ],
)
async def test_a_trailer_s3_refuses_is_refused(
    world: World, announced: str, trailer: str | None, code: bytes
) -> None:
    reply, answer = await _get_through(
        world, lambda event: trailed_answer(world, event, PAYLOAD, announced, trailer)
    )
    assert answer.status == 400 and b"<Code>" + code + b"</Code>" in answer.body
    assert reply is not None and reply.status == 500 and PAYLOAD not in reply.body
