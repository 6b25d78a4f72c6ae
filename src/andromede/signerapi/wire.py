"""The restJson1 protocol AWS Signer speaks (decision 0386), as a
:class:`~andromede.awsjson.endpoint.RequestWire`: the operation is the method and path
(``PUT /signing-profiles/<name>`` puts a profile, ``POST /signing-jobs`` starts a job…), its
parameters the path's, the query string's and the JSON body's members (``statuses`` and
``tagKeys`` as lists); an answer is JSON,
an error its status, the ``x-amzn-ErrorType`` header and ``{"message", "code"}``."""

from __future__ import annotations

import json
import re
from typing import Any, Final
from urllib.parse import parse_qs

from andromede.awsjson.endpoint import JsonRequest, JsonWireError
from andromede.http.response import Response
from andromede.signerapi.errors import SignerWireError

__all__ = ["CONTENT_TYPE", "RestJsonWire", "route"]

CONTENT_TYPE: Final = "application/json"
_PROFILE: Final = r"/signing-profiles/(?P<profileName>[^/]+)"
_JOB: Final = r"/signing-jobs/(?P<jobId>[^/]+)"
_ROUTES: Final = tuple(
    (method, re.compile(path), name)
    for method, path, name in (
        ("PUT", _PROFILE, "PutSigningProfile"),
        ("GET", _PROFILE, "GetSigningProfile"),
        ("DELETE", _PROFILE, "CancelSigningProfile"),
        ("PUT", rf"{_PROFILE}/revoke", "RevokeSigningProfile"),
        ("POST", rf"{_PROFILE}/permissions", "AddProfilePermission"),
        ("GET", rf"{_PROFILE}/permissions", "ListProfilePermissions"),
        ("DELETE", rf"{_PROFILE}/permissions/(?P<statementId>[^/]+)", "RemoveProfilePermission"),
        ("GET", r"/signing-profiles/?", "ListSigningProfiles"),
        ("POST", r"/signing-jobs/with-payload", "SignPayload"),
        ("GET", r"/revocations", "GetRevocationStatus"),
        ("POST", r"/signing-jobs/?", "StartSigningJob"),
        ("GET", r"/signing-jobs/?", "ListSigningJobs"),
        ("GET", _JOB, "DescribeSigningJob"),
        ("PUT", rf"{_JOB}/revoke", "RevokeSignature"),
        ("GET", r"/signing-platforms/(?P<platformId>[^/]+)", "GetSigningPlatform"),
        ("GET", r"/signing-platforms/?", "ListSigningPlatforms"),
        # decision 0394: the ARN, percent-encoded by the clients, decoded here, has slashes
        ("POST", r"/tags/(?P<resourceArn>arn:.+)", "TagResource"),
        ("DELETE", r"/tags/(?P<resourceArn>arn:.+)", "UntagResource"),
        ("GET", r"/tags/(?P<resourceArn>arn:.+)", "ListTagsForResource"),
    )
)
# Query members, by the model's names; ``statuses`` is a list.
_QUERY: Final = {
    "includeCanceled",
    "maxResults",
    "nextToken",
    "platformId",
    "status",
    "isRevoked",
    "requestedBy",
    "jobInvoker",
    "signatureExpiresBefore",
    "signatureExpiresAfter",
    "profileOwner",
    "revisionId",
    "category",
    "partner",
    "target",
}


def route(method: str, path: str) -> tuple[str, dict[str, str]]:
    """The operation a method and (decoded) path name, and the path's members."""
    for wanted, pattern, name in _ROUTES:
        found = pattern.fullmatch(path)
        if found is not None and wanted == method:
            return name, found.groupdict()
    return "", {}


class RestJsonWire:
    def action(self, request: JsonRequest[Any]) -> str:
        return route(request.scope["method"], request.scope["path"])[0]

    def params(self, request: JsonRequest[Any]) -> dict[str, Any]:
        params: dict[str, Any] = {}
        if request.body:
            try:
                body = json.loads(request.body)
            except (ValueError, UnicodeDecodeError) as exc:
                raise SignerWireError("BadRequestException", "The body is not valid JSON") from exc
            if not isinstance(body, dict):
                raise SignerWireError("BadRequestException", "The body must be a JSON object")
            params.update(body)
        query = parse_qs(request.scope.get("query_string", b"").decode("utf-8", "replace"))
        for name, values in query.items():
            if name in ("statuses", "tagKeys"):
                params[name] = values
            elif name in _QUERY:
                params[name] = values[-1]
        params.update(route(request.scope["method"], request.scope["path"])[1])
        return params

    def answer(self, request: JsonRequest[Any], result: dict[str, Any]) -> Response:
        return _response(200, result)

    def error(self, request: JsonRequest[Any], wire: JsonWireError) -> Response:
        response = _response(wire.status, wire.payload())
        response.headers.extend(wire.headers())
        if not isinstance(wire, SignerWireError):
            response.headers.append(("x-amzn-ErrorType", wire.error_type))
        return response


def _response(status: int, payload: dict[str, Any]) -> Response:
    body = json.dumps(payload, separators=(",", ":")).encode()
    return Response(status=status, headers=[("Content-Type", CONTENT_TYPE)], body=body)
