"""The S3 app as a host's VPC endpoint listeners serve it (decision 0160).

A VPC router redirects what its endpoint-routed subnets send to the object store's addresses
to the host side of its transit link at ``hypervisor_vpce_port``
(``hypervisor/endpoint_redirect.py``); a listener bound there (the metadata service's
:class:`~andromede.hypervisor.metadata_listeners.MetadataListeners`, one per transit address)
hands each request to :class:`EndpointFront`. The front finds which endpoint the request came
through from the connection alone — the listener's own address (one router, so one VPC) and
the source the router translated the instance's to (its subnet, so its route table) — asks
the compute service for that endpoint (still there, of that VPC: its policy), and runs the S3
app inside :func:`~andromede.s3.endpoint_origin.through_endpoint`. A connection it cannot
place (a host process, an instance whose subnet no longer routes to an endpoint) is answered
S3's ``AccessDenied``: only S3 is served here, never the other APIs of the gateway's port.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from andromede.http.asgi import new_request_id
from andromede.http.response import Receive, Scope, Send, send_response
from andromede.s3.endpoint_origin import EndpointOrigin, through_endpoint
from andromede.s3.errors import S3Error
from andromede.s3.responses import common_headers, error_response

__all__ = ["EndpointFront", "EndpointLookup", "OriginResolver"]

log = logging.getLogger(__name__)

# (listener address, client address) → (VPC id, endpoint id, the instance's private address).
OriginResolver = Callable[[str, str], tuple[str, str, str] | None]
# An endpoint's id → (its VPC id, its policy document), None when it is gone.
EndpointLookup = Callable[[str], Awaitable[tuple[str, str] | None]]
AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class EndpointFront:
    def __init__(self, app: AsgiApp, resolve: OriginResolver, lookup: EndpointLookup) -> None:
        self._app = app
        self._resolve = resolve
        self._lookup = lookup

    async def origin(self, scope: Scope) -> EndpointOrigin | None:
        server, client = scope.get("server"), scope.get("client")
        if not server or not client:
            return None
        placed = self._resolve(str(server[0]), str(client[0]))
        if placed is None:
            return None
        vpc_id, endpoint_id, private_ip = placed
        found = await self._lookup(endpoint_id)
        if found is None or found[0] != vpc_id:
            return None
        return EndpointOrigin(vpc_id, endpoint_id, found[1], private_ip)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        origin = await self.origin(scope)
        if origin is None:
            request_id = new_request_id()
            log.info("request %s: no VPC endpoint for %s", request_id, scope.get("client"))
            path = str(scope.get("path") or "/")
            refused = error_response(
                S3Error("AccessDenied"), None, path, request_id, str(scope.get("method"))
            )
            await send_response(send, refused, common_headers(request_id))
            return
        with through_endpoint(origin):
            await self._app(scope, receive, send)
