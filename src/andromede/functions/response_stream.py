"""A Lambda invocation whose answer is read while it is made (decision 0313): the core of
InvokeWithResponseStream, kept apart from its wire so that function URLs in
``RESPONSE_STREAM`` mode can stream through it too.

A handler that returns an iterator streams (``functions.bootstrap``): each piece it yields
reaches :meth:`StreamedInvocation.pieces` as soon as it is made, through a queue of a few
pieces whose sink waits when it is full — the sandbox's pipe, then the handler, wait with it,
so a slow reader holds the function back rather than the gateway's memory growing. A handler
returning a value is answered in one piece once it has returned, as AWS buffers the answer of
a function that does not stream. The answer is bounded (``lambda_max_streamed_response_bytes``,
AWS's 200 MB): past it the sandbox is stopped and the invocation fails
``Function.ResponseSizeTooLarge``, the pieces already sent staying sent.

How it is used::

    streamed = StreamedInvocation(lambda sink: invoker.invoke(..., sink=sink), limit)
    await streamed.start()  # what the run raised before its first piece (a throttle…)
    async for piece in streamed.pieces():  # the answer, in order
        ...
    streamed.outcome  # the Invocation: ok, or its error type and document; its log
    await streamed.abandon()  # the caller left before the end

After ``start()``, :attr:`StreamedInvocation.content_type` is the stream's content type when
the handler gave one with its first piece (``application/vnd.awslambda.http-integration-
response``: an HTTP prelude opens the stream, decision 0337), and
:meth:`StreamedInvocation.ended_early` the run's end when it gave no piece at all (a value
returned, a failure, an empty stream) — what a function URL needs to choose its answer.

A caller that leaves does not stop the function, as AWS does not: the run goes on to its end
(its log written, its time metered, its concurrency held), its pieces dropped.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Final

from andromede.functions.invoker import Invocation
from andromede.functions.sandbox import ChunkSink, StreamCut

__all__ = ["TOO_LARGE", "StreamedInvocation"]

log = logging.getLogger(__name__)

TOO_LARGE: Final = "Function.ResponseSizeTooLarge"
_DEPTH: Final = 4  # pieces waiting for the reader, at most (each at most 64 KiB)
# Runs whose caller left, kept referenced until they end.
_ABANDONED: set[asyncio.Task[Invocation]] = set()


class StreamedInvocation:
    def __init__(
        self, run: Callable[[ChunkSink], Awaitable[Invocation]], limit: int, depth: int = _DEPTH
    ) -> None:
        self._run = run
        self.limit = limit
        self._queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=depth)
        self._task: asyncio.Task[Invocation] | None = None
        self._first: bytes | None = None
        self._size = 0
        self._abandoned = False
        self.outcome: Invocation | None = None
        self.content_type: str | None = None

    async def start(self) -> None:
        """Start the run and wait for its first piece or its end: what it raised before
        either (TooManyRequests, no executor) is raised here, before anything is answered."""
        self._task = asyncio.ensure_future(self._run(self._sink))
        self._first = await self._next()
        if self._first is None:
            self._task.result()

    def ended_early(self) -> Invocation | None:
        """After :meth:`start`: the run's end if it ended before giving any piece, else None
        (its pieces are to be read)."""
        task = self._task
        if task is None or self._first is not None or not task.done():
            return None
        return task.result()

    async def pieces(self) -> AsyncGenerator[bytes, None]:
        """The answer's pieces in order; :attr:`outcome` is set once they are all given."""
        task = self._task
        if task is None:
            raise RuntimeError("start() first")
        piece = self._first
        self._first = None
        while piece is not None:
            yield piece
            piece = await self._next()
        done = task.result()
        if done.ok and done.payload:  # a handler that returned a value: one piece
            if len(done.payload) > self.limit:
                done = _too_large(done, self.limit)
            else:
                yield done.payload
        self.outcome = done

    async def abandon(self) -> None:
        """The reader is gone: the run goes on to its end, its pieces dropped."""
        self._abandoned = True
        while not self._queue.empty():
            self._queue.get_nowait()
        task = self._task
        if task is not None and not task.done():
            _ABANDONED.add(task)
            task.add_done_callback(_ended)

    async def _sink(self, piece: bytes, content_type: str | None = None) -> None:
        if self._size + len(piece) > self.limit:
            raise StreamCut(TOO_LARGE, _too_large_message(self.limit))
        if self._size == 0 and content_type is not None:
            self.content_type = content_type
        self._size += len(piece)
        if not self._abandoned:
            await self._queue.put(piece)

    async def _next(self) -> bytes | None:
        """The next piece; None once the run has ended and every piece was taken."""
        task = self._task
        if task is None:
            return None
        while True:
            if not self._queue.empty():
                return self._queue.get_nowait()
            if task.done():
                return None
            getter = asyncio.ensure_future(self._queue.get())
            await asyncio.wait({getter, task}, return_when=asyncio.FIRST_COMPLETED)
            if getter.done():
                return getter.result()
            getter.cancel()


def _too_large_message(limit: int) -> str:
    return f"Response payload size exceeded maximum allowed payload size ({limit} bytes)."


def _too_large(done: Invocation, limit: int) -> Invocation:
    error = {"errorMessage": _too_large_message(limit), "errorType": TOO_LARGE}
    return dataclasses.replace(
        done, ok=False, payload=json.dumps(error).encode(), error_type=TOO_LARGE
    )


def _ended(task: asyncio.Task[Invocation]) -> None:
    _ABANDONED.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.warning("a streamed invocation whose caller left failed", exc_info=task.exception())
