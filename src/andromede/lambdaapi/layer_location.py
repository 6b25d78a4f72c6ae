"""A layer version's ``Content.Location`` (decision 0302): a URL on the Lambda endpoint that
serves the version's zip for ten minutes, made and checked as a function's
``Code.Location`` is (``lambdaapi.code_location``): the token the URL's expiry sealed under
the layer's account's keys with the layer version bound, so it cannot be forged, moved to
another layer or version, or extended. A version deleted since is no longer served."""

from __future__ import annotations

import base64
import json
import re
import time
from typing import Final
from urllib.parse import parse_qs, quote

from andromede.errors import AndromedeError
from andromede.functions.layer_model import FunctionLayer, FunctionLayers, layer_arn
from andromede.functions.service import FunctionsService
from andromede.http.response import Response, Scope

__all__ = ["LAYER_PATH", "layer_location", "serve_layer_download"]

LIFETIME_MS: Final = 10 * 60 * 1000  # AWS's presigned URL: ten minutes
LAYER_PATH: Final = re.compile(
    r"/2018-10-31/layers/(?P<account>\d{12}):layer:(?P<name>[a-zA-Z0-9_-]{1,64})"
    r"/versions/(?P<version>[0-9]{1,10})/content"
)


def _context(tenant_id: str, name: str, version: int) -> bytes:
    return f"lambda:{tenant_id}:layer:{name}:{version}:content-location".encode()


async def layer_location(
    functions: FunctionsService, base_url: str, tenant_id: str, name: str, version: int
) -> str:
    expires = int(time.time() * 1000) + LIFETIME_MS
    sealed = await functions.seal(
        tenant_id, json.dumps({"expires": expires}).encode(), _context(tenant_id, name, version)
    )
    token = base64.urlsafe_b64encode(sealed).decode().rstrip("=")
    path = f"/2018-10-31/layers/{tenant_id}:layer:{name}/versions/{version}/content"
    return f"{base_url}{path}?location={quote(token)}"


def _refused(status: int, error_type: str, message: str) -> Response:
    body = json.dumps({"Type": "User", "message": message}).encode()
    return Response(
        status=status,
        headers=[("Content-Type", "application/json"), ("x-amzn-ErrorType", error_type)],
        body=body,
    )


async def serve_layer_download(
    functions: FunctionsService, layers: FunctionLayers | None, scope: Scope
) -> Response:
    """The zip a valid, unexpired location names; AccessDenied for any other."""
    found = LAYER_PATH.fullmatch(str(scope.get("path", "")))
    query = parse_qs(scope.get("query_string", b"").decode("utf-8", "replace"))
    denied = _refused(403, "AccessDeniedException", "The content location is invalid or expired")
    if found is None or layers is None or not query.get("location"):
        return denied
    tenant_id, name, version = found["account"], found["name"], int(found["version"])
    token = query["location"][-1]
    try:
        sealed = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        fields = json.loads(
            await functions.open(tenant_id, sealed, _context(tenant_id, name, version))
        )
        expires = int(fields["expires"])
    except Exception:  # forged, truncated, another version's: all the same refusal
        return denied
    if expires < int(time.time() * 1000):
        return denied
    gone = _refused(404, "ResourceNotFoundException", "The layer version no longer exists")
    try:
        arn, _, live = await layers.grants(layer_arn(functions.region, tenant_id, name, version))
        if live is None:
            return gone
        data = (await layers.contents((FunctionLayer(arn, live.code_size, 0),)))[0]
    except AndromedeError:
        return gone
    return Response(status=200, headers=[("Content-Type", "application/zip")], body=data)
