"""The response value the wire adapters return, and how it is sent over ASGI."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Message", "Receive", "Response", "Scope", "Send", "send_response"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


@dataclass(slots=True)
class Response:
    """Status, headers and either a byte body or a stream of chunks (never both)."""

    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    stream: AsyncIterator[bytes] | None = None
    content_length: int | None = None  # for streams; bodies use len(body)
    head: bool = False  # HEAD: headers as for GET, no body
    # The stream's first chunk, already taken from it (see prime()): sent before the rest.
    first_chunk: bytes = b""

    async def prime(self) -> None:
        """Take the stream's first chunk now, so that a failure to produce it is raised here,
        before the status line is sent, rather than cutting a response already started.

        Kept on the response instead of wrapping the stream in another generator: each async
        generator layer was a measurable share of a small GET (decision 0025)."""
        stream = self.stream
        if stream is None:
            return
        try:
            self.first_chunk = await anext(stream, b"")
        except BaseException:
            await _close(stream)
            raise

    def header(self, name: str, value: str | None) -> None:
        if value is not None:
            self.headers.append((name, value))


async def send_response(send: Send, response: Response, extra: list[tuple[bytes, bytes]]) -> int:
    """Send the response; returns the number of body bytes sent."""
    raw = [
        (name.encode("latin-1"), value.encode("utf-8", "surrogateescape"))
        for name, value in response.headers
    ]
    raw.extend(extra)
    if response.stream is None:
        length = len(response.body) if response.content_length is None else response.content_length
    else:
        length = response.content_length if response.content_length is not None else -1
    if length >= 0 and not any(name == b"content-length" for name, _ in raw):
        raw.append((b"content-length", str(length).encode()))
    stream = response.stream
    try:
        await send({"type": "http.response.start", "status": response.status, "headers": raw})
        if response.head:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return 0
        if stream is None:
            await send({"type": "http.response.body", "body": response.body, "more_body": False})
            return len(response.body)
        sent = 0
        first = response.first_chunk
        if first:
            sent += len(first)
            await send({"type": "http.response.body", "body": first, "more_body": True})
        async for chunk in stream:
            sent += len(chunk)
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return sent
    finally:
        if stream is not None:
            # Release what the stream holds open (a blob's file) now, whether it was read to
            # its end, not read (HEAD), or cut short by a failed send.
            await _close(stream)


async def _close(stream: AsyncIterator[bytes]) -> None:
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        await aclose()
