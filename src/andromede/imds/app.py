"""The metadata server: an ASGI app speaking EC2's IMDSv2, one per host, in one process (its
tokens are signed with a key of that process's memory: another process would refuse them).

Who asks is the connection's peer address (see :mod:`andromede.imds.instances`); an address
that belongs to no instance, or to one whose metadata options turn the service off
(``HttpEndpoint`` disabled), gets 403 and nothing else. Then, as on EC2:

- ``PUT /latest/api/token`` with ``X-aws-ec2-metadata-token-ttl-seconds`` (1 to
  ``token_ttl_max``, else 400) answers a token bound to the instance; a request carrying
  ``X-Forwarded-For`` is refused (403), so a proxy or a forwarding web server on the guest
  cannot mint one for a remote caller; the answer's packets reach the guest with IP TTL = the
  instance's ``HttpPutResponseHopLimit`` (decision 0148: the listener's socket does it), and
  the connection closes after it;
- every ``GET``/``HEAD`` needs ``X-aws-ec2-metadata-token`` (missing, expired or another
  instance's: 401) when the instance's ``HttpTokens`` is ``required``; with ``optional`` a
  read without one is answered too (IMDSv1), one with a bad token is still 401. Then it
  answers the node of the metadata tree (:mod:`andromede.imds.tree`), 404 when there is none;
- any other method: 405.

Bodies are text, the credentials included, as EC2 sends them; they never reach the log, which
gets one access line per request (instance, method, path, status).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from andromede.http.access import log_access
from andromede.http.asgi import decode_headers
from andromede.http.hop_limit import response_hop_limiter
from andromede.http.response import Receive, Response, Scope, Send, send_response
from andromede.iam.service import IdentityService
from andromede.imds.credentials import CredentialsCache
from andromede.imds.identity import IdentityCredentialsIssuer
from andromede.imds.instances import InstanceDirectory, InstanceMetadata
from andromede.imds.tokens import TokenAuthority
from andromede.imds.tree import Directory, find, listing, metadata_tree
from andromede.settings import Settings

__all__ = ["ImdsLimits", "MetadataApp", "create_metadata_app"]

log = logging.getLogger(__name__)

TOKEN_PATH = "/latest/api/token"  # noqa: S105 (a path, not a secret)
TTL_HEADER = "x-aws-ec2-metadata-token-ttl-seconds"
TOKEN_HEADER = "x-aws-ec2-metadata-token"  # noqa: S105
_META_DATA = "/latest/meta-data"


@dataclass(frozen=True, slots=True)
class ImdsLimits:
    """Tunables of the metadata service, from the settings (see ``docs/configuration.md``)."""

    token_ttl_max: int = 21600
    credentials_duration: int = 3600
    credentials_refresh_margin: float = 1800.0
    access_log: bool = True

    @classmethod
    def from_settings(cls, settings: Settings) -> ImdsLimits:
        return cls(
            token_ttl_max=settings.imds_token_ttl_max,
            credentials_duration=settings.imds_credentials_duration,
            credentials_refresh_margin=settings.imds_credentials_refresh_margin,
            access_log=settings.access_log,
        )


def _error(status: int, reason: str, headers: list[tuple[str, str]] | None = None) -> Response:
    # EC2's error pages are short HTML documents that name the status only.
    body = (
        '<?xml version="1.0" encoding="iso-8859-1"?>\n'
        '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"\n'
        '\t"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n'
        '<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">\n'
        f" <head>\n  <title>{status} - {reason}</title>\n </head>\n"
        f" <body>\n  <h1>{status} - {reason}</h1>\n </body>\n</html>\n"
    ).encode()
    return Response(status, [("content-type", "text/html"), *(headers or [])], body)


def _text(body: bytes) -> Response:
    return Response(200, [("content-type", "text/plain")], body)


class MetadataApp:
    def __init__(
        self,
        directory: InstanceDirectory,
        credentials: CredentialsCache,
        tokens: TokenAuthority,
        limits: ImdsLimits,
    ) -> None:
        self._directory = directory
        self._credentials = credentials
        self._tokens = tokens
        self._limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        started = time.perf_counter()
        method = scope["method"]
        path = scope["path"]
        client = scope.get("client")
        peer = client[0] if client else ""
        instance: InstanceMetadata | None = None
        try:
            instance = await self._directory.by_address(peer) if peer else None
            if instance is None or not instance.endpoint_enabled:
                response = _error(403, "Forbidden")
            else:
                headers = decode_headers(scope["headers"])
                response = await self._answer(instance, method, path, headers)
                if path == TOKEN_PATH and response.status == 200:
                    _limit_hops(scope, response, instance.put_response_hop_limit)
        except Exception:  # the directory's or identity's store failed: say nothing more
            log.exception("metadata request %s %s from %s failed", method, path, peer)
            response = _error(500, "Internal Server Error")
        response.head = method == "HEAD"
        await send_response(send, response, [])
        if not self._limits.access_log:
            return
        level = logging.WARNING if response.status >= 500 else logging.INFO
        log_access(
            level,
            "imds %s %s %s %d %.1fms",
            instance.instance_id if instance else f"unknown peer {peer}",
            method,
            path,
            response.status,
            (time.perf_counter() - started) * 1000,
        )

    async def _answer(
        self, instance: InstanceMetadata, method: str, path: str, headers: dict[str, str]
    ) -> Response:
        if path == TOKEN_PATH:
            if method != "PUT":
                return _error(405, "Method Not Allowed", [("allow", "PUT")])
            return self._mint(instance, headers)
        if method not in ("GET", "HEAD"):
            return _error(405, "Method Not Allowed", [("allow", "GET, HEAD")])
        token = headers.get(TOKEN_HEADER)
        if token is None and not instance.tokens_required:
            pass  # IMDSv1, which the instance's HttpTokens=optional allows
        elif not token or not self._tokens.valid(token, instance.instance_id):
            return _error(401, "Unauthorized")
        credentials = None
        # Only the paths that show them need the role's credentials (issued at most hourly).
        if path.rstrip("/") == _META_DATA or path.startswith(f"{_META_DATA}/iam"):
            credentials = await self._credentials.for_instance(instance)
        node = find(metadata_tree(instance, credentials), path)
        if node is None:
            return _error(404, "Not Found")
        return _text(listing(node) if isinstance(node, Directory) else node)

    def _mint(self, instance: InstanceMetadata, headers: dict[str, str]) -> Response:
        if "x-forwarded-for" in headers:
            return _error(403, "Forbidden")
        raw = headers.get(TTL_HEADER, "")
        ttl = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 6 else 0
        if not 1 <= ttl <= self._limits.token_ttl_max:
            return _error(400, "Bad Request")
        token = self._tokens.mint(instance.instance_id, ttl)
        return Response(
            200, [("content-type", "text/plain"), (TTL_HEADER, str(ttl))], token.encode()
        )


def _limit_hops(scope: Scope, response: Response, hop_limit: int) -> None:
    """A token's answer reaches the guest with IP TTL = its hop limit, as on EC2: a container
    behind the guest (one router more) gets none with the default limit of 1. The server's
    limiter holds for the rest of the connection, so the connection closes after it: the
    guest's next requests are not limited (``http.hop_limit``). A server without one (in
    process) sends it as it is."""
    limiter = response_hop_limiter(scope)
    if limiter is not None:
        limiter(hop_limit)
        response.headers.append(("connection", "close"))


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def create_metadata_app(
    directory: InstanceDirectory, identity: IdentityService, limits: ImdsLimits
) -> MetadataApp:
    """The metadata server for the instances ``directory`` knows, their credentials issued by
    ``identity``: what the composition root mounts on the metadata port."""
    issuer = IdentityCredentialsIssuer(identity, duration=limits.credentials_duration)
    cache = CredentialsCache(issuer, refresh_margin=limits.credentials_refresh_margin)
    return MetadataApp(directory, cache, TokenAuthority(), limits)
