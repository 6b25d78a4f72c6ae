"""A function's WriteGetObjectResponse, once its caller's signature and right to answer were
checked (decisions 0384, 0411): its body read as it arrives (aws-chunked decoded, each chunk's
signature checked), handed to the GET of this worker its route names (``rendezvous.py``) or
passed on to the worker that holds it (``exchange.py``), and counted.

Counting (AWS's ``LambdaResponseRequests``, ``LambdaResponse4xx``, ``LambdaResponse5xx``,
decision 0411): the GET's worker alone knows which Object Lambda access point a route
answers, so it counts — an answer it delivers, taken here or passed on, when delivered or
refused; an answer refused before it reached the owner (its signature, its right to answer,
its encoding) is reported to the owner by its route, the one way the access point is found.
A route whose GET is over is no longer any access point's: not counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Final

from andromede.http.chunked import STREAMING_MODES, AwsChunkedDecoder
from andromede.http.response import Receive
from andromede.http.sigv4 import STREAMING_UNSIGNED_PAYLOAD_TRAILER, SigningContext, SigV4Error
from andromede.s3objectlambda.errors import ObjectLambdaError, to_wire_error
from andromede.s3objectlambda.event import forwarded_answer
from andromede.s3objectlambda.exchange import AnswerExchange, route_owner
from andromede.s3objectlambda.metrics import AnswerSource
from andromede.s3objectlambda.rendezvous import Rendezvous

__all__ = ["AnswerCounter", "FunctionAnswers"]

_HEX_HASH_LENGTH: Final = 64
_ROUTE_HEADER: Final = "x-amz-request-route"

# Counts one WriteGetObjectResponse of the access point's GET with the status it was answered.
AnswerCounter = Callable[[AnswerSource, int], None]


class FunctionAnswers:
    """The answers of this worker's functions, and the GETs of this worker waiting for them."""

    def __init__(
        self, count: AnswerCounter, *, body_timeout: float, exchange_folder: Path | None = None
    ) -> None:
        self.rendezvous = Rendezvous()
        self._count = count
        self._body_timeout = body_timeout
        self._exchange = (
            None
            if exchange_folder is None
            else AnswerExchange(
                exchange_folder,
                self.rendezvous.tag,
                self.deliver,
                timeout=body_timeout,
                report=self.counted,
            )
        )

    async def take(
        self, headers: dict[str, str], signing: SigningContext | None, receive: Receive
    ) -> None:
        """An answer its caller may give (checked): delivered here, or passed on to the
        worker of its route; ObjectLambdaError on refusal."""
        route = headers.get(_ROUTE_HEADER, "")
        owner = route_owner(route)
        body = _asgi_body(receive, self._body_timeout)
        mode = headers.get("x-amz-content-sha256", "")
        try:
            if mode in STREAMING_MODES:
                # An aws-chunked body (a streaming SDK's): decoded, each chunk's signature
                # checked against the seed's, before any byte reaches the caller.
                headers, body = _dechunked(headers, body, mode, signing)
            elif mode.startswith("STREAMING-"):
                raise ObjectLambdaError("InvalidArgument", "x-amz-content-sha256 is not valid")
        except ObjectLambdaError as exc:
            await self.refused(route, exc.status)
            raise
        if owner is None or owner == self.rendezvous.tag or self._exchange is None:
            await self.deliver(headers, body)
        else:
            # Another worker's GET waits for this answer (decision 0384's "Workers"); that
            # worker counts it.
            await self._exchange.forward(owner, headers, body)

    async def deliver(self, headers: dict[str, str], chunks: AsyncIterator[bytes]) -> None:
        """An answer to a GET of this worker (taken here or passed on by another), counted
        for the GET's access point with the status the function gets."""
        source = self.rendezvous.source(headers.get(_ROUTE_HEADER, ""))
        try:
            await self._deliver(headers, chunks)
        except ObjectLambdaError as exc:
            if source is not None:
                self._count(source, exc.status)
            raise
        if source is not None:
            self._count(source, 200)

    def counted(self, route: str, status: int) -> None:
        """An answer to ``route`` refused before it reached this worker, counted here."""
        source = self.rendezvous.source(route)
        if source is not None:
            self._count(source, status)

    async def refused(self, route: str, status: int) -> None:
        """An answer refused before it was delivered — its signature, its caller's right
        to answer, its encoding — counted by the worker whose GET its route names (best
        effort, as CloudWatch's request metrics are)."""
        owner = route_owner(route)
        if owner is None:
            return
        if owner == self.rendezvous.tag or self._exchange is None:
            self.counted(route, status)
            return
        with contextlib.suppress(OSError, ValueError, TimeoutError):
            await self._exchange.report(owner, route, status)

    async def serve(self) -> None:
        """This worker's end of the answers' exchange between workers (a background task;
        returns at once without one)."""
        if self._exchange is not None:
            await self._exchange.serve()

    async def _deliver(self, headers: dict[str, str], chunks: AsyncIterator[bytes]) -> None:
        """A WriteGetObjectResponse to the GET of this worker its route and token name: its
        status and headers, then its body chunk by chunk, hashed as it goes when the hash
        was signed (a mismatch cuts the GET's response); ObjectLambdaError on refusal."""
        answer = forwarded_answer(headers)
        if answer is None:
            raise ObjectLambdaError("InvalidArgument", "x-amz-fwd-status is not a valid status")
        pending = self.rendezvous.claim(
            headers.get(_ROUTE_HEADER, ""), headers.get("x-amz-request-token", "")
        )
        if pending is None:
            raise ObjectLambdaError(
                "InvalidRequest", "The request route or token is not valid, or was used"
            )
        if "content-length" in headers:
            answer.headers.append(("Content-Length", headers["content-length"]))
        if not pending.answer.done():
            pending.answer.set_result(answer)
        payload_hash = headers.get("x-amz-content-sha256", "")
        digest = hashlib.sha256() if len(payload_hash) == _HEX_HASH_LENGTH else None
        channel = pending.body
        try:
            async for chunk in chunks:
                if digest is not None:
                    digest.update(chunk)
                await channel.put(chunk)
        except ObjectLambdaError as exc:
            await channel.end(exc)
            raise
        except TimeoutError as exc:
            await channel.end(ObjectLambdaError("RequestTimeout"))
            raise ObjectLambdaError("RequestTimeout") from exc
        if digest is not None and not hmac.compare_digest(digest.hexdigest(), payload_hash):
            # Bytes not the ones signed: the caller's response is cut, not completed.
            await channel.end(ObjectLambdaError("XAmzContentSHA256Mismatch"))
            raise ObjectLambdaError("XAmzContentSHA256Mismatch")
        await channel.end()


async def _asgi_body(receive: Receive, timeout: float) -> AsyncIterator[bytes]:
    """The request's body as it arrives, each chunk within ``timeout``."""
    while True:
        try:
            async with asyncio.timeout(timeout):
                message = await receive()
        except TimeoutError:
            raise ObjectLambdaError("RequestTimeout") from None
        if message["type"] == "http.disconnect":
            raise ObjectLambdaError("RequestTimeout")
        chunk: bytes = message.get("body", b"")
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return


def _dechunked(
    headers: dict[str, str], body: AsyncIterator[bytes], mode: str, signing: SigningContext | None
) -> tuple[dict[str, str], AsyncIterator[bytes]]:
    """An aws-chunked WriteGetObjectResponse's headers as its payload's (its length the
    decoded one) and its payload, checked chunk by chunk as it is decoded."""
    unsigned = mode == STREAMING_UNSIGNED_PAYLOAD_TRAILER
    if signing is None and not unsigned:
        raise ObjectLambdaError("InvalidRequest", f"{mode} needs a signed request")
    declared = headers.get("x-amz-decoded-content-length", "")
    length = int(declared) if declared.isdigit() else None
    decoder = AwsChunkedDecoder(mode, None if unsigned else signing, decoded_length=length)
    decoded = {k: v for k, v in headers.items() if k != "content-length"}
    if length is not None:
        decoded["content-length"] = str(length)

    async def payload() -> AsyncIterator[bytes]:
        try:
            async for chunk in decoder.decode(body):
                yield chunk
        except SigV4Error as exc:
            wire = to_wire_error(exc)
            raise wire if wire is not None else ObjectLambdaError("InvalidRequest") from exc

    return decoded, payload()
