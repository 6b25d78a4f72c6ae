"""The restJson1 protocol EventBridge Pipes speaks (decision 0258), as a
:class:`~andromede.awsjson.endpoint.RequestWire`: the operation is the method and path
(``POST /v1/pipes/<Name>`` creates, ``GET`` describes…), its parameters the path's, the
query string's and the JSON body's members; an answer is JSON, an error its status, the
``x-amzn-ErrorType`` header and a JSON body of its members. Admission, audit and the access
log stay the JSON skeleton's."""

from __future__ import annotations

import json
from typing import Any, Final
from urllib.parse import parse_qs

from andromede.awsjson.endpoint import JsonRequest, JsonWireError
from andromede.http.response import Response
from andromede.pipesapi.errors import PipesWireError

__all__ = ["RestJsonWire", "route"]

CONTENT_TYPE: Final = "application/json"
_PIPES: Final = "/v1/pipes"
_TAGS: Final = "/tags/"
_ON_PIPE: Final = {
    "POST": "CreatePipe",
    "GET": "DescribePipe",
    "PUT": "UpdatePipe",
    "DELETE": "DeletePipe",
}
_ON_TAGS: Final = {"POST": "TagResource", "GET": "ListTagsForResource", "DELETE": "UntagResource"}
# Query string members, with how many values each takes (a list: ``tagKeys``).
_QUERY: Final = {
    "NamePrefix",
    "DesiredState",
    "CurrentState",
    "SourcePrefix",
    "TargetPrefix",
    "NextToken",
    "Limit",
}


def route(method: str, path: str) -> tuple[str, dict[str, str]]:
    """The operation a method and (decoded) path name, and the path's members ("" when
    none)."""
    if path == _PIPES and method == "GET":
        return "ListPipes", {}
    if path.startswith(_PIPES + "/"):
        rest = path[len(_PIPES) + 1 :]
        name, _, verb = rest.partition("/")
        if not verb and method in _ON_PIPE:
            return _ON_PIPE[method], {"Name": name}
        if verb in ("start", "stop") and method == "POST":
            return ("StartPipe" if verb == "start" else "StopPipe"), {"Name": name}
    if path.startswith(_TAGS) and method in _ON_TAGS:
        return _ON_TAGS[method], {"resourceArn": path[len(_TAGS) :]}
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
                raise PipesWireError(
                    "SerializationException", "The body is not valid JSON"
                ) from exc
            if not isinstance(body, dict):
                raise PipesWireError("SerializationException", "The body must be a JSON object")
            params.update(body)
        query = parse_qs(request.scope.get("query_string", b"").decode("utf-8", "replace"))
        for name, values in query.items():
            if name == "tagKeys":
                params["tagKeys"] = values
            elif name in _QUERY:
                params[name] = values[-1]
        params.update(route(request.scope["method"], request.scope["path"])[1])
        return params

    def answer(self, request: JsonRequest[Any], result: dict[str, Any]) -> Response:
        return _response(200, result)

    def error(self, request: JsonRequest[Any], wire: JsonWireError) -> Response:
        response = _response(wire.status, wire.payload())
        response.headers.extend(wire.headers())
        if not isinstance(wire, PipesWireError):
            response.headers.append(("x-amzn-ErrorType", wire.error_type))
        return response


def _response(status: int, payload: dict[str, Any]) -> Response:
    body = json.dumps(payload, separators=(",", ":")).encode()
    return Response(status=status, headers=[("Content-Type", CONTENT_TYPE)], body=body)
