"""An aws-chunked WriteGetObjectResponse (decision 0399): a streaming SDK's body, each chunk
signed on the seed signature, is decoded for the caller; a chunk whose signature does not
match cuts the caller's answer, never completes it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from andromede.http.sigv4 import (
    STREAMING_PAYLOAD,
    SigningContext,
    canonical_request,
    derive_signing_key,
    sign,
    string_to_sign,
)
from andromede.s3objectlambda.app import FunctionOutcome, ObjectLambdaApp
from s3objectlambda.test_object_lambda_app import World, fetch_input, signed, world
from support.awschunked import encode_signed
from support.s3app import REGION, Reply

__all__ = ["world"]  # the fixture, shared with the app's tests


async def send_raw(
    app: ObjectLambdaApp, method: str, path: str, headers: dict[str, str], body: bytes
) -> Reply:
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "scheme": "http",
        "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
    }
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await asyncio.create_task(app(scope, receive, send))
    return Reply(
        status=sent[0]["status"],
        headers={k.decode().lower(): v.decode() for k, v in sent[0]["headers"]},
        body=b"".join(m.get("body", b"") for m in sent[1:]),
    )


async def chunked_answer(
    world: World, event: dict[str, Any], payload: bytes, *, tamper: bool = False
) -> Reply:
    """The function's WriteGetObjectResponse as a streaming SDK sends it: aws-chunked,
    ``STREAMING-AWS4-HMAC-SHA256-PAYLOAD``, 5-byte chunks each signed on the previous."""
    credentials = world.s3.credentials
    assert credentials is not None
    context = event["getObjectContext"]
    amz_date = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    headers = {
        "host": "127.0.0.1:9001",
        "x-amz-date": amz_date,
        "x-amz-content-sha256": STREAMING_PAYLOAD,
        "content-encoding": "aws-chunked",
        "x-amz-decoded-content-length": str(len(payload)),
        "x-amz-request-route": context["outputRoute"],
        "x-amz-request-token": context["outputToken"],
        "x-amz-fwd-header-content-type": "text/plain",
    }
    if credentials.token:
        headers["x-amz-security-token"] = credentials.token
    names = sorted(headers)
    canonical = canonical_request("POST", "/WriteGetObjectResponse", "", headers, names,
        STREAMING_PAYLOAD, presigned=False)  # fmt: skip
    scope = f"{amz_date[:8]}/{REGION}/s3-object-lambda/aws4_request"
    key = derive_signing_key(credentials.secret_key, amz_date[:8], REGION, "s3-object-lambda")
    seed = sign(key, string_to_sign(amz_date, scope, canonical))
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={credentials.access_key}/{scope}, "
        f"SignedHeaders={';'.join(names)}, Signature={seed}"
    )
    body = encode_signed(payload, 5, SigningContext(key, amz_date, scope, seed), None)
    if tamper:
        body = body.replace(b"HELLO", b"JELLO", 1)
    headers["content-length"] = str(len(body))
    return await send_raw(world.app, "POST", "/WriteGetObjectResponse", headers, body)


async def test_an_aws_chunked_answer_is_decoded_for_the_caller(world: World) -> None:
    answers: list[Reply] = []

    async def upper(event: dict[str, Any]) -> FunctionOutcome:
        original = await fetch_input(world, event["getObjectContext"]["inputS3Url"])
        answers.append(await chunked_answer(world, event, original.body.upper()))
        return FunctionOutcome(ok=True)

    world.handler.append(upper)
    assert world.s3.credentials is not None
    reply = await signed(world.app, world.s3.credentials, "GET", world.host, "/notes.txt")
    assert (reply.status, reply.body) == (200, b"HELLO OBJECT")
    assert reply.headers["content-length"] == "12"  # the decoded length, not the wire's
    assert reply.headers["content-type"] == "text/plain"
    assert answers[0].status == 200, answers[0].body


async def test_a_chunk_not_signed_so_cuts_the_callers_answer(world: World) -> None:
    answers: list[Reply] = []

    async def forged(event: dict[str, Any]) -> FunctionOutcome:
        answers.append(await chunked_answer(world, event, b"HELLO OBJECT", tamper=True))
        return FunctionOutcome(ok=True)

    world.handler.append(forged)
    assert world.s3.credentials is not None
    try:
        reply = await signed(world.app, world.s3.credentials, "GET", world.host, "/notes.txt")
    except Exception:  # noqa: S110 — the cut answer may surface as the stream's error
        pass
    else:
        assert b"JELLO" not in reply.body
    assert answers[0].status == 403
    assert b"<Code>SignatureDoesNotMatch</Code>" in answers[0].body
