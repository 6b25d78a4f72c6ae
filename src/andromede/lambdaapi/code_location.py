"""GetFunction's ``Code.Location`` (decision 0286): a URL on the Lambda endpoint that serves
the version's zip for ten minutes, as AWS's presigned S3 URL does.

The URL is ``/2015-03-31/functions/<account>:function:<name>/code?location=<token>``, the
token the zip's SHA-256 and the URL's expiry sealed under the account's keys (AES-GCM, the
account and function bound as associated data): it cannot be forged, moved to another
function or extended, and any gateway opens it (no secret of its own). Like a presigned
URL, whoever holds it may download the zip until it expires; the GetFunction that made it
is audited. The shared endpoint routes an unsigned GET of that shape here
(``api_routing``), and of a layer version's ``Content.Location`` too
(``lambdaapi.layer_location``, decision 0302)."""

from __future__ import annotations

import base64
import json
import re
import time
from typing import Final
from urllib.parse import parse_qs, quote

from andromede.errors import AndromedeError
from andromede.functions.service import FunctionsService
from andromede.http.response import Response, Scope
from andromede.lambdaapi.layer_location import LAYER_PATH, serve_layer_download

__all__ = ["LIFETIME_MS", "code_location", "is_code_download", "serve_download"]

LIFETIME_MS: Final = 10 * 60 * 1000  # AWS's presigned URL: ten minutes
_PATH: Final = re.compile(
    r"/2015-03-31/functions/(?P<account>\d{12}):function:(?P<name>[a-zA-Z0-9_-]{1,64})/code"
)


def _context(tenant_id: str, name: str) -> bytes:
    return f"lambda:{tenant_id}:{name}:code-location".encode()


async def code_location(
    functions: FunctionsService, base_url: str, tenant_id: str, name: str, sha: str
) -> str:
    expires = int(time.time() * 1000) + LIFETIME_MS
    sealed = await functions.seal(
        tenant_id, json.dumps({"sha": sha, "expires": expires}).encode(), _context(tenant_id, name)
    )
    token = base64.urlsafe_b64encode(sealed).decode().rstrip("=")
    path = f"/2015-03-31/functions/{tenant_id}:function:{name}/code"
    return f"{base_url}{path}?location={quote(token)}"


def is_code_download(scope: Scope) -> bool:
    """An unsigned GET of a ``Code.Location`` (or a layer's ``Content.Location``) URL."""
    path = str(scope.get("path", ""))
    return (
        scope.get("method") == "GET"
        and (_PATH.fullmatch(path) is not None or LAYER_PATH.fullmatch(path) is not None)
        and b"location=" in scope.get("query_string", b"")
    )


def _refused(status: int, error_type: str, message: str) -> Response:
    body = json.dumps({"Type": "User", "message": message}).encode()
    return Response(
        status=status,
        headers=[("Content-Type", "application/json"), ("x-amzn-ErrorType", error_type)],
        body=body,
    )


async def serve_download(functions: FunctionsService, scope: Scope) -> Response:
    """The zip a valid, unexpired location names; AccessDenied for any other."""
    if LAYER_PATH.fullmatch(str(scope.get("path", ""))) is not None:
        return await serve_layer_download(functions, functions.layers, scope)
    found = _PATH.fullmatch(str(scope.get("path", "")))
    query = parse_qs(scope.get("query_string", b"").decode("utf-8", "replace"))
    denied = _refused(403, "AccessDeniedException", "The code location is invalid or expired")
    if found is None or not query.get("location"):
        return denied
    tenant_id, name = found["account"], found["name"]
    token = query["location"][-1]
    try:
        sealed = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        fields = json.loads(await functions.open(tenant_id, sealed, _context(tenant_id, name)))
        sha, expires = str(fields["sha"]), int(fields["expires"])
    except Exception:  # forged, truncated, another function's: all the same refusal
        return denied
    if expires < int(time.time() * 1000):
        return denied
    try:
        data = await functions.code_by_sha(tenant_id, name, sha)
    except AndromedeError:
        return _refused(404, "ResourceNotFoundException", "The code no longer exists")
    return Response(status=200, headers=[("Content-Type", "application/zip")], body=data)
