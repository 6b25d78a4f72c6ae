"""The ASGI extension by which an app limits how far its response travels (decision 0148).

EC2's metadata service answers the IMDSv2 token PUT with packets whose IP TTL is the
instance's ``HttpPutResponseHopLimit``, so that a container behind the guest (one router
more) never gets a token with the default limit of 1. The ASGI app decides the limit (the
instance's option, read per request); only the server holds the socket. A server that can do
it puts :data:`RESPONSE_HOP_LIMIT` in ``scope["extensions"]``: a callable taking the TTL the
response's packets must have when they reach the client — the server adds the routers of its
own platform on the way. It holds for the rest of the connection, retransmissions included,
and is never raised again on it (a request pipelined behind cannot carry the limited answer
further); the app closes the connection after that answer, so that the guest's later
requests, on new connections, are not limited.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["RESPONSE_HOP_LIMIT", "HopLimiter", "response_hop_limiter"]

RESPONSE_HOP_LIMIT = "andromede.response_hop_limit"

HopLimiter = Callable[[int], None]


def response_hop_limiter(scope: Mapping[str, Any]) -> HopLimiter | None:
    """The server's hop limiter for this request's connection, or None (an in-process server,
    a test client)."""
    extensions = scope.get("extensions") or {}
    limiter = extensions.get(RESPONSE_HOP_LIMIT)
    return limiter if callable(limiter) else None
