"""A ``RESPONSE_STREAM`` function URL's answer (decision 0337): the handler's pieces sent to
the HTTP client as they are made, over ``functions.response_stream``.

Once the run has given its first piece (or ended), :func:`streamed_answer` chooses the answer:

- the run ended before any piece: a failure is AWS's 502; a value returned is read as a
  ``BUFFERED`` URL reads it (``statusCode``, ``headers``, ``cookies``, ``body``), within the
  synchronous payload bound; an empty stream is a 200 with no body;
- the stream opens with an HTTP prelude (content type ``application/vnd.awslambda.http-
  integration-response``): its status and headers once its eight NUL bytes have come (a
  prelude not of AWS's shape, or longer than ``lambda_url_max_prelude_bytes``: 502, as AWS's
  front answers one), the rest the body;
- any other stream: 200 ``application/octet-stream``, every piece the body.

The body (:class:`StreamedBody`) gives each piece as it comes, so the client's socket paces
the handler: the server's send waits while the client does not read, the queue of
``StreamedInvocation`` fills, the sandbox's pipe, then the handler's ``yield``. When the run
fails after the status line went out (its error, its timeout, the 200 MB bound), there is no
status left to say it with: the body raises :class:`StreamBroken` and the app leaves the
chunked body without its last chunk, the cut that an HTTP client reports as an incomplete
answer. A body closed before its end (the client gone, a HEAD) lets the run go on to its end,
its pieces dropped, as AWS lets a streaming function run when its client disconnects."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Final

from andromede.functions.http_prelude import (
    PRELUDE_TYPE,
    BadPrelude,
    PreludeReader,
    plain_head,
    prelude_head,
)
from andromede.functions.response_stream import StreamedInvocation
from andromede.functions.url_events import UrlResponse, response_of, url_error

__all__ = ["StreamBroken", "StreamedBody", "streamed_answer"]

_FAILED: Final = "Internal Server Error"


class StreamBroken(Exception):
    """The run failed after its answer began: ``error_type`` its error (for the audit)."""

    def __init__(self, error_type: str) -> None:
        super().__init__(error_type)
        self.error_type = error_type


class StreamedBody:
    """The answer's body: the bytes after the prelude, then each piece as it comes; raises
    :class:`StreamBroken` at its end when the run failed. ``sent`` counts what it gave."""

    def __init__(
        self, streamed: StreamedInvocation, pieces: AsyncGenerator[bytes, None], rest: bytes
    ) -> None:
        self._streamed = streamed
        self._pieces = pieces
        self._rest = rest
        self.sent = 0

    def __aiter__(self) -> StreamedBody:
        return self

    async def __anext__(self) -> bytes:
        if self._rest:
            piece, self._rest = self._rest, b""
        else:
            try:
                piece = await anext(self._pieces)
            except StopAsyncIteration:
                done = self._streamed.outcome
                if done is not None and not done.ok:
                    raise StreamBroken(done.error_type or "Unhandled") from None
                raise
        self.sent += len(piece)
        return piece

    async def aclose(self) -> None:
        await self._pieces.aclose()
        if self._streamed.outcome is None:  # not read to its end: the run goes on alone
            await self._streamed.abandon()


async def streamed_answer(
    streamed: StreamedInvocation, *, max_payload: int, prelude_limit: int
) -> tuple[UrlResponse, StreamedBody | None, str | None]:
    """The answer of a started run: its head (status, headers; a body only when it is not
    streamed), the streamed body or None, and the refusal's reason when the head is AWS's
    502 rather than the function's answer."""
    done = streamed.ended_early()
    if done is not None:
        if not done.ok:
            return url_error(502, _FAILED), None, done.error_type or "Unhandled"
        if not done.payload:  # a stream of nothing
            return plain_head(), None, None
        if len(done.payload) > max_payload:
            return url_error(502, _FAILED), None, "ResponseSizeTooLarge"
        return response_of(done.payload), None, None
    pieces = streamed.pieces()
    if streamed.content_type != PRELUDE_TYPE:
        return plain_head(), StreamedBody(streamed, pieces, b""), None
    reader = PreludeReader(prelude_limit)
    try:
        async for piece in pieces:
            rest = reader.feed(piece)
            if rest is not None:
                return prelude_head(reader.metadata), StreamedBody(streamed, pieces, rest), None
    except BadPrelude:
        await StreamedBody(streamed, pieces, b"").aclose()
        return url_error(502, _FAILED), None, "InvalidPrelude"
    # The run ended within its prelude: nothing was sent, so AWS's 502 can still say so.
    ended = streamed.outcome
    reason = "InvalidPrelude" if ended is None or ended.ok else ended.error_type or "Unhandled"
    return url_error(502, _FAILED), None, reason
