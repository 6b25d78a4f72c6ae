"""The witness's HTTP interface (decision 0122): ``POST <prefix>/add-checkpoint`` as C2SP
tlog-witness defines it, and ``POST <prefix>/add-key-transition`` (a region's key rotated:
decision 0140's addendum), answered by :class:`~andromede.audit.witness.Witness`. Nothing else
is served. A body larger than ``max_body`` (a checkpoint with its signatures and 63 proof lines
is well under 8 KiB) is 413 before it is read whole; another method 405; another path 404.
Every cosignature is logged with the origin and size it vouches for, never a key."""

from __future__ import annotations

import logging
from typing import Final

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from andromede.audit.witness import Witness

__all__ = ["witness_app"]

_log = logging.getLogger(__name__)
DEFAULT_MAX_BODY: Final = 64 * 1024


def witness_app(
    witness: Witness, *, prefix: str = "", max_body: int = DEFAULT_MAX_BODY
) -> Starlette:
    async def read(request: Request) -> bytes | None:
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > max_body):
            return None
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > max_body:
                return None
        return bytes(body)

    async def add_checkpoint(request: Request) -> Response:
        body = await read(request)
        if body is None:
            return PlainTextResponse("the body is too large\n", status_code=413)
        answer = witness.add_checkpoint(body)
        first = body.partition(b"\n\n")[2].split(b"\n", 2)
        origin = first[0].decode("utf-8", "replace")[:200] if first else ""
        _log.info("add-checkpoint %s: %d", origin, answer.status)
        return Response(answer.body, status_code=answer.status, media_type=answer.content_type)

    async def add_key_transition(request: Request) -> Response:
        body = await read(request)
        if body is None:
            return PlainTextResponse("the body is too large\n", status_code=413)
        answer = witness.add_key_transition(body)
        lines = body.split(b"\n", 3)
        what = b" ".join(lines[1:3]).decode("utf-8", "replace")[:200] if len(lines) > 3 else ""
        _log.info("add-key-transition %s: %d", what, answer.status)
        return Response(answer.body, status_code=answer.status, media_type=answer.content_type)

    base = prefix.rstrip("/")
    return Starlette(
        routes=[
            Route(f"{base}/add-checkpoint", add_checkpoint, methods=["POST"]),
            Route(f"{base}/add-key-transition", add_key_transition, methods=["POST"]),
        ]
    )
