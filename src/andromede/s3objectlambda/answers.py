"""A function's WriteGetObjectResponse, once its caller's signature and right to answer were
checked (decisions 0384, 0411): its body read as it arrives (aws-chunked decoded, each chunk's
signature checked, its trailing checksum verified as S3 verifies PutObject's, decision 0417),
handed to the GET of this worker its route names (``rendezvous.py``) or passed on to the
worker that holds it (``exchange.py``), and counted.

A body checked at its end (its signed hash, its last chunk's signature, its trailing checksum)
keeps its latest chunk back until the check passes, and the GET's status and headers wait for
its first chunk passed on (decision 0417): a body refused before any of it was passed on
leaves the GET unanswered, so its caller gets AWS's error for a function that did not answer
(LambdaResponseNotReceived once it exits); a longer one cuts the caller's response before its
last bytes. Either way the caller never gets a whole answer of bytes the function did not send.

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
from andromede.s3objectlambda.event import ForwardedAnswer, forwarded_answer
from andromede.s3objectlambda.exchange import AnswerExchange, route_owner
from andromede.s3objectlambda.metrics import AnswerSource
from andromede.s3objectlambda.rendezvous import Pending, Rendezvous
from andromede.storage.checksums import BodyHasher, InvalidChecksumValue, algorithm_of_header
from andromede.storage.errors import ChecksumMismatch
from andromede.storage.integrity import BodyIntegrity, verify_body
from andromede.storage.model import ChecksumAlgorithm

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
        was signed; ObjectLambdaError on refusal (see the module's docstring for what the
        caller then gets)."""
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
        payload_hash = headers.get("x-amz-content-sha256", "")
        digest = hashlib.sha256() if len(payload_hash) == _HEX_HASH_LENGTH else None
        passing = _Passing(pending, answer)
        # A body checked only at its end holds its latest chunk back until then.
        held: bytes | None = None
        hold = digest is not None or payload_hash in STREAMING_MODES
        try:
            async for chunk in chunks:
                if digest is not None:
                    digest.update(chunk)
                if not hold:
                    await passing.put(chunk)
                    continue
                if held is not None:
                    await passing.put(held)
                held = chunk
            if digest is not None and not hmac.compare_digest(digest.hexdigest(), payload_hash):
                raise ObjectLambdaError("XAmzContentSHA256Mismatch")
        except ObjectLambdaError as exc:
            await passing.fail(exc)
            raise
        except TimeoutError as exc:
            await passing.fail(ObjectLambdaError("RequestTimeout"))
            raise ObjectLambdaError("RequestTimeout") from exc
        if held is not None:
            await passing.put(held)
        await passing.end()


class _Passing:
    """An answer's way to its GET: its status and headers given with its first chunk passed
    on (or its end), so that an answer refused before then has given the GET nothing."""

    def __init__(self, pending: Pending, answer: ForwardedAnswer) -> None:
        self._pending = pending
        self._answer = answer
        self._started = False

    def _start(self) -> None:
        if not self._started and not self._pending.answer.done():
            self._pending.answer.set_result(self._answer)
        self._started = True

    async def put(self, chunk: bytes) -> None:
        self._start()
        await self._pending.body.put(chunk)

    async def end(self) -> None:
        self._start()
        await self._pending.body.end()

    async def fail(self, error: ObjectLambdaError) -> None:
        """The caller's response cut if it began; else the GET is left to learn the
        function's fate (it did not answer) as when it never calls."""
        if self._started:
            await self._pending.body.end(error)


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
    algorithm = _trailing_algorithm(headers)
    hasher = None if algorithm is None else BodyHasher(algorithm)
    decoded = {k: v for k, v in headers.items() if k != "content-length"}
    if length is not None:
        decoded["content-length"] = str(length)

    async def payload() -> AsyncIterator[bytes]:
        try:
            async for chunk in decoder.decode(body):
                if hasher is not None:
                    hasher.update(chunk)
                yield chunk
        except SigV4Error as exc:
            wire = to_wire_error(exc)
            raise wire if wire is not None else ObjectLambdaError("InvalidRequest") from exc
        if algorithm is not None and hasher is not None:
            _verify_trailer(algorithm, hasher, decoder.trailers.get(algorithm.header))

    return decoded, payload()


def _trailing_algorithm(headers: dict[str, str]) -> ChecksumAlgorithm | None:
    """The checksum ``x-amz-trailer`` announces (None: none), refused as S3 refuses an
    algorithm it does not have."""
    trailer = headers.get("x-amz-trailer", "").strip()
    if not trailer:
        return None
    algorithm = algorithm_of_header(trailer)
    if algorithm is None:
        raise ObjectLambdaError("InvalidRequest", f"Unsupported trailer {trailer[:64]}")
    return algorithm


def _verify_trailer(algorithm: ChecksumAlgorithm, hasher: BodyHasher, value: str | None) -> None:
    """The trailing checksum checked against the decoded payload with S3's own verifier
    (``storage.integrity``), answered with S3's errors for PutObject's trailers: BadDigest
    for another checksum, InvalidRequest for a value not of the algorithm's shape,
    MalformedTrailerError for an announced trailer that never came."""
    if value is None:
        raise ObjectLambdaError("MalformedTrailerError")
    try:
        verify_body(hasher, BodyIntegrity(checksum_algorithm=algorithm, checksum_value=value))
    except InvalidChecksumValue:
        raise ObjectLambdaError(
            "InvalidRequest", f"Value for {algorithm.header} trailing header is invalid."
        ) from None
    except ChecksumMismatch as exc:
        raise ObjectLambdaError("BadDigest", str(exc)) from None
