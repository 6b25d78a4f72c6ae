"""AWS's HTTP integration response (decision 0337), pure: how a streamed answer opens with the
status, headers and cookies a ``RESPONSE_STREAM`` function URL answers with.

A stream whose content type is ``application/vnd.awslambda.http-integration-response`` (what
Node's ``awslambda.HttpResponseStream.from`` sets, and the bootstrap for a Python generator
whose first item is a ``dict``) opens with a JSON object — ``statusCode``, ``headers``,
``cookies`` —, then eight NUL bytes, then the body. :class:`PreludeReader` takes the pieces as
they come until the eight NULs (bounded: a prelude that never ends is refused, not held), and
:func:`prelude_head` reads the object as AWS's front does. A stream without a prelude is a 200
with the runtime's default content type, ``application/octet-stream``."""

from __future__ import annotations

import json
from typing import Final

from andromede.functions.bootstrap import PRELUDE_END, PRELUDE_TYPE
from andromede.functions.url_events import UrlResponse

__all__ = [
    "PRELUDE_TYPE",
    "STREAM_TYPE",
    "BadPrelude",
    "PreludeReader",
    "plain_head",
    "prelude_head",
]

STREAM_TYPE: Final = "application/octet-stream"  # a stream's content type when none is set


class BadPrelude(ValueError):
    """A prelude that is not AWS's shape, or that does not end within its bound."""


class PreludeReader:
    """The prelude of a stream read from its pieces: :meth:`feed` each piece in order until it
    answers the body bytes that followed the prelude (possibly none)."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._held = bytearray()
        self.metadata: object = None

    def feed(self, piece: bytes) -> bytes | None:
        """None while the prelude goes on; once it has ended, what came after it. BadPrelude
        past ``limit`` bytes without its end, or when it is not JSON."""
        # Only the new piece and the delimiter's length before it need a look.
        start = max(0, len(self._held) - len(PRELUDE_END) + 1)
        self._held += piece
        end = self._held.find(PRELUDE_END, start)
        if end < 0:
            if len(self._held) > self._limit:
                raise BadPrelude(f"no end of the HTTP prelude within {self._limit} bytes")
            return None
        if end > self._limit:
            raise BadPrelude(f"no end of the HTTP prelude within {self._limit} bytes")
        try:
            self.metadata = json.loads(bytes(self._held[:end]))
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadPrelude("the HTTP prelude is not JSON") from exc
        rest = bytes(self._held[end + len(PRELUDE_END) :])
        self._held.clear()
        return rest


def plain_head() -> UrlResponse:
    """The head of a stream without a prelude."""
    return UrlResponse(200, [("Content-Type", STREAM_TYPE)])


def prelude_head(metadata: object) -> UrlResponse:
    """The status and headers a prelude stands for: ``statusCode`` (200 when absent),
    ``headers`` (string, number values), ``cookies`` (a ``Set-Cookie`` each); BadPrelude for
    another shape, which AWS's front answers as a function's error."""
    if not isinstance(metadata, dict):
        raise BadPrelude("the HTTP prelude is not an object")
    status = metadata.get("statusCode", 200)
    headers = metadata.get("headers")
    headers = {} if headers is None else headers
    cookies = metadata.get("cookies")
    cookies = [] if cookies is None else cookies
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise BadPrelude("the HTTP prelude's statusCode is not an HTTP status")
    if not isinstance(headers, dict) or not isinstance(cookies, list):
        raise BadPrelude("the HTTP prelude's headers or cookies are not of their type")
    head = UrlResponse(status)
    for name, value in headers.items():
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            head.headers.append((str(name), str(value)))
    if not any(name.lower() == "content-type" for name, _ in head.headers):
        head.headers.append(("Content-Type", STREAM_TYPE))
    head.headers += [("Set-Cookie", c) for c in cookies if isinstance(c, str)]
    return head
