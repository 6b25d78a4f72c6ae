"""ASGI helpers shared by every wire API on the endpoint: request ids, headers, bounded bodies,
and one request run in process as a trusted principal (how a service calls another's API)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable

from andromede.http.response import Message, Receive, Scope, Send

__all__ = [
    "TRUSTED_PRINCIPAL_SCOPE_KEY",
    "TRUSTED_REGION_SCOPE_KEY",
    "BodyTimeout",
    "BodyTooLarge",
    "ClientGone",
    "InProcessApp",
    "decode_headers",
    "new_request_id",
    "raw_target",
    "read_small_body",
    "request_in_process",
    "trusted_region",
]

# The principal a request acts as, already authenticated by the caller that built the scope:
# set only by in-process callers of the composition root (the web console, decision 0111),
# never from the wire — ASGI servers build the scope, and no header or path becomes a key.
# Its value is the Principal, or the ``iam.authn.Authenticated`` request an API verified
# before handing it on with its body (S3 Object Lambda's pass-through, decision 0399).
TRUSTED_PRINCIPAL_SCOPE_KEY = "andromede.trusted_principal"
# The Region such a request is made in, where a signed one names it in its SigV4 scope: set
# beside the trusted principal by the console's calls to a regional page's API (decision 0406),
# never from the wire either; absent, the API's default Region, as before.
TRUSTED_REGION_SCOPE_KEY = "andromede.trusted_region"


InProcessApp = Callable[[Scope, Receive, Send], Awaitable[None]]


async def request_in_process(
    app: InProcessApp, scope: Scope, body: bytes
) -> tuple[Message | None, bytes]:
    """Run one request of ``scope`` (its principal set under
    :data:`TRUSTED_PRINCIPAL_SCOPE_KEY` by the caller) with ``body`` through ``app`` in this
    process: the response's start message (None if it sent none) and its body."""
    sent: list[Message] = []
    given = False

    async def receive() -> Message:
        nonlocal given
        if given:
            return {"type": "http.disconnect"}
        given = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = next((m for m in sent if m["type"] == "http.response.start"), None)
    answer = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start, answer


def trusted_region(scope: Scope) -> str | None:
    """The Region an in-process request of a trusted principal is made in; None where it
    names none (or is no such request: the key counts only beside the principal's)."""
    region = scope.get(TRUSTED_REGION_SCOPE_KEY)
    if TRUSTED_PRINCIPAL_SCOPE_KEY not in scope or not isinstance(region, str):
        return None
    return region


def new_request_id() -> str:
    """16 hex digits, unique in practice. Not a secret (every response echoes it), so drawn
    from the process's Mersenne Twister, which Python reseeds in a forked child, instead of
    ``os.urandom``: a system call per request showed in small GETs' profiles."""
    return f"{random.getrandbits(64):016X}"


def raw_target(scope: Scope) -> tuple[str, str]:
    """The request's path and query string exactly as sent (SigV4 signs the raw bytes)."""
    raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("utf-8", "surrogateescape")
    return raw_path, scope.get("query_string", b"").decode("utf-8", "surrogateescape")


def decode_headers(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """Lower-case names → values; repeated headers joined with "," as HTTP allows."""
    headers: dict[str, str] = {}
    for name_bytes, value_bytes in raw:
        name = name_bytes.decode("latin-1").lower()
        # utf-8 with surrogateescape keeps every byte as sent: SigV4 signs the raw bytes.
        value = value_bytes.decode("utf-8", "surrogateescape").strip()
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    return headers


class BodyTooLarge(Exception):
    """The body exceeds the API's limit; nothing past the limit was read into memory."""


class BodyTimeout(Exception):
    """The client stopped sending its body."""


class ClientGone(Exception):
    """The client disconnected before its body arrived."""


async def read_small_body(receive: Receive, *, limit: int, timeout: float) -> bytes:
    """The whole body of a request whose APIs take small bodies (IAM, STS, KMS).

    Reading stops at ``limit`` + 1 bytes: a client cannot make the server buffer more.
    """
    pieces: list[bytes] = []
    size = 0
    while True:
        try:
            async with asyncio.timeout(timeout):
                message = await receive()
        except TimeoutError as exc:
            raise BodyTimeout from exc
        if message["type"] == "http.disconnect":
            raise ClientGone
        piece: bytes = message.get("body", b"")
        size += len(piece)
        if size > limit:
            raise BodyTooLarge
        pieces.append(piece)
        if not message.get("more_body", False):
            return b"".join(pieces)
