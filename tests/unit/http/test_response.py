"""Sending a response over ASGI: a primed stream's first chunk, and the stream always closed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from andromede.http.response import Message, Response, send_response


class _Stream:
    """An async stream that records whether it was closed."""

    def __init__(self, chunks: list[bytes], fail_at: int | None = None) -> None:
        self._chunks = list(chunks)
        self._fail_at = fail_at
        self._taken = 0
        self.closed = False

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        if self._taken == self._fail_at:
            raise OSError("the store failed")
        if not self._chunks:
            raise StopAsyncIteration
        self._taken += 1
        return self._chunks.pop(0)

    async def aclose(self) -> None:
        self.closed = True


async def _send_all(response: Response) -> tuple[list[Message], int]:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    count = await send_response(send, response, [])
    return sent, count


async def test_a_primed_stream_sends_its_first_chunk_then_the_rest() -> None:
    stream = _Stream([b"ab", b"cd", b"e"])
    response = Response(stream=stream, content_length=5)
    await response.prime()
    assert response.first_chunk == b"ab"
    sent, count = await _send_all(response)
    assert count == 5
    assert [m.get("body") for m in sent[1:]] == [b"ab", b"cd", b"e", b""]
    assert [m.get("more_body") for m in sent[1:]] == [True, True, True, False]
    assert stream.closed


async def test_priming_raises_before_anything_is_sent_and_closes_the_stream() -> None:
    stream = _Stream([b"ab"], fail_at=0)
    response = Response(stream=stream, content_length=2)
    with pytest.raises(OSError, match="store failed"):
        await response.prime()
    assert stream.closed


async def test_an_empty_stream_primes_to_nothing() -> None:
    response = Response(stream=_Stream([]), content_length=0)
    await response.prime()
    sent, count = await _send_all(response)
    assert count == 0
    assert [m.get("body") for m in sent[1:]] == [b""]


async def test_a_head_response_closes_its_stream_unread() -> None:
    stream = _Stream([b"never"])
    sent, count = await _send_all(Response(stream=stream, content_length=5, head=True))
    assert count == 0 and stream.closed
    assert [m.get("body") for m in sent[1:]] == [b""]


async def test_a_failed_send_still_closes_the_stream() -> None:
    stream = _Stream([b"ab", b"cd"])
    response = Response(stream=stream, content_length=4)
    await response.prime()

    async def send(message: dict[str, Any]) -> None:
        if message.get("body") == b"cd":
            raise ConnectionResetError("the client went away")

    with pytest.raises(ConnectionResetError):
        await send_response(send, response, [])
    assert stream.closed
