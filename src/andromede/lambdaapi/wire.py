"""The REST-JSON protocol AWS Lambda speaks (decision 0286), as a
:class:`~andromede.awsjson.endpoint.RequestWire`: the operation is the method and path under
the API's dated prefixes (``POST /2015-03-31/functions`` creates, ``GET
/2015-03-31/functions/<FunctionName>`` describes…), its parameters the path's, the query
string's and the JSON body's members — but Invoke's body, which is the event as sent; an
answer is JSON with the operation's status (201, 204…), or an invocation's raw payload with
its headers; an error its status, ``x-amzn-ErrorType`` and ``{"Type", "message"}``.
Admission, audit and the access log stay the JSON skeleton's."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import parse_qs

from andromede.awsjson.endpoint import JsonRequest, JsonWireError
from andromede.http.response import Response
from andromede.lambdaapi.errors import LambdaWireError

__all__ = ["CONTENT_TYPE", "Answer", "RestJsonWire", "route"]

CONTENT_TYPE: Final = "application/json"
_FN: Final = r"(?P<FunctionName>[^/]+)"
_UUID: Final = r"(?P<UUID>[^/]+)"
_EIC: Final = rf"/2019-09-25/functions/{_FN}/event-invoke-config"  # decision 0300
_PC: Final = rf"/2019-09-30/functions/{_FN}/provisioned-concurrency"  # decision 0314
_URL: Final = rf"/2021-10-31/functions/{_FN}/url"  # decision 0312
_LAYER: Final = r"/2018-10-31/layers/(?P<LayerName>[^/]+)/versions"
_LAYER_VERSION: Final = _LAYER + r"/(?P<VersionNumber>[^/]+)"
_ROUTES: Final[tuple[tuple[str, str, str], ...]] = (
    ("POST", r"/2015-03-31/functions/?", "CreateFunction"),
    ("GET", r"/2015-03-31/functions/?", "ListFunctions"),
    ("GET", rf"/2015-03-31/functions/{_FN}", "GetFunction"),
    ("DELETE", rf"/2015-03-31/functions/{_FN}", "DeleteFunction"),
    ("GET", rf"/2015-03-31/functions/{_FN}/configuration", "GetFunctionConfiguration"),
    ("PUT", rf"/2015-03-31/functions/{_FN}/configuration", "UpdateFunctionConfiguration"),
    ("PUT", rf"/2015-03-31/functions/{_FN}/code", "UpdateFunctionCode"),
    ("POST", rf"/2015-03-31/functions/{_FN}/versions", "PublishVersion"),
    ("GET", rf"/2015-03-31/functions/{_FN}/versions", "ListVersionsByFunction"),
    ("POST", rf"/2015-03-31/functions/{_FN}/aliases", "CreateAlias"),
    ("GET", rf"/2015-03-31/functions/{_FN}/aliases", "ListAliases"),
    ("GET", rf"/2015-03-31/functions/{_FN}/aliases/(?P<Name>[^/]+)", "GetAlias"),
    ("PUT", rf"/2015-03-31/functions/{_FN}/aliases/(?P<Name>[^/]+)", "UpdateAlias"),
    ("DELETE", rf"/2015-03-31/functions/{_FN}/aliases/(?P<Name>[^/]+)", "DeleteAlias"),
    ("POST", rf"/2015-03-31/functions/{_FN}/policy", "AddPermission"),
    ("GET", rf"/2015-03-31/functions/{_FN}/policy", "GetPolicy"),
    (
        "DELETE",
        rf"/2015-03-31/functions/{_FN}/policy/(?P<StatementId>[^/]+)",
        "RemovePermission",
    ),
    ("POST", rf"/2015-03-31/functions/{_FN}/invocations", "Invoke"),
    # Decision 0313.
    (
        "POST",
        rf"/2021-11-15/functions/{_FN}/response-streaming-invocations",
        "InvokeWithResponseStream",
    ),
    ("POST", rf"/2014-11-13/functions/{_FN}/invoke-async/?", "InvokeAsync"),
    ("PUT", rf"/2017-10-31/functions/{_FN}/concurrency", "PutFunctionConcurrency"),
    ("DELETE", rf"/2017-10-31/functions/{_FN}/concurrency", "DeleteFunctionConcurrency"),
    ("GET", rf"/2019-09-30/functions/{_FN}/concurrency", "GetFunctionConcurrency"),
    ("POST", r"/2017-03-31/tags/(?P<Resource>.+)", "TagResource"),
    ("GET", r"/2017-03-31/tags/(?P<Resource>.+)", "ListTags"),
    ("DELETE", r"/2017-03-31/tags/(?P<Resource>.+)", "UntagResource"),
    ("GET", r"/2016-08-19/account-settings/?", "GetAccountSettings"),
    ("POST", r"/2015-03-31/event-source-mappings/?", "CreateEventSourceMapping"),
    ("GET", r"/2015-03-31/event-source-mappings/?", "ListEventSourceMappings"),
    ("GET", rf"/2015-03-31/event-source-mappings/{_UUID}", "GetEventSourceMapping"),
    ("PUT", rf"/2015-03-31/event-source-mappings/{_UUID}", "UpdateEventSourceMapping"),
    ("DELETE", rf"/2015-03-31/event-source-mappings/{_UUID}", "DeleteEventSourceMapping"),
    ("PUT", rf"{_EIC}", "PutFunctionEventInvokeConfig"),
    ("POST", rf"{_EIC}", "UpdateFunctionEventInvokeConfig"),
    ("GET", rf"{_EIC}", "GetFunctionEventInvokeConfig"),
    ("DELETE", rf"{_EIC}", "DeleteFunctionEventInvokeConfig"),
    ("GET", rf"{_EIC}/list", "ListFunctionEventInvokeConfigs"),
    # ListProvisionedConcurrencyConfigs is GetProvisionedConcurrencyConfig's path with ?List=ALL.
    ("PUT", _PC, "PutProvisionedConcurrencyConfig"),
    ("GET", _PC, "GetProvisionedConcurrencyConfig"),
    ("DELETE", _PC, "DeleteProvisionedConcurrencyConfig"),
    # Layers (decision 0302); GetLayerVersionByArn is ListLayers' path with ?find=LayerVersion.
    ("GET", r"/2018-10-31/layers/?", "ListLayers"),
    ("POST", rf"{_LAYER}/?", "PublishLayerVersion"),
    ("GET", rf"{_LAYER}/?", "ListLayerVersions"),
    ("GET", _LAYER_VERSION, "GetLayerVersion"),
    ("DELETE", _LAYER_VERSION, "DeleteLayerVersion"),
    ("POST", rf"{_LAYER_VERSION}/policy", "AddLayerVersionPermission"),
    ("GET", rf"{_LAYER_VERSION}/policy", "GetLayerVersionPolicy"),
    (
        "DELETE",
        rf"{_LAYER_VERSION}/policy/(?P<StatementId>[^/]+)",
        "RemoveLayerVersionPermission",
    ),
    # Function URLs (decision 0312).
    ("POST", rf"{_URL}", "CreateFunctionUrlConfig"),
    ("PUT", rf"{_URL}", "UpdateFunctionUrlConfig"),
    ("GET", rf"{_URL}", "GetFunctionUrlConfig"),
    ("DELETE", rf"{_URL}", "DeleteFunctionUrlConfig"),
    ("GET", rf"{_URL}s", "ListFunctionUrlConfigs"),
)
_CSC: Final = r"/2020-04-22/code-signing-configs"
_FN_CSC: Final = r"/2020-06-30/functions/(?P<FunctionName>[^/]+)/code-signing-config"
# Code signing (decision 0386); GetFunctionCodeSigningConfig's route stays among the provider
# reads (decision 0297).
_CODE_SIGNING: Final[tuple[tuple[str, str, str], ...]] = (
    ("POST", rf"{_CSC}/?", "CreateCodeSigningConfig"),
    ("GET", rf"{_CSC}/?", "ListCodeSigningConfigs"),
    ("GET", rf"{_CSC}/(?P<CodeSigningConfigArn>[^/]+)", "GetCodeSigningConfig"),
    ("PUT", rf"{_CSC}/(?P<CodeSigningConfigArn>[^/]+)", "UpdateCodeSigningConfig"),
    ("DELETE", rf"{_CSC}/(?P<CodeSigningConfigArn>[^/]+)", "DeleteCodeSigningConfig"),
    (
        "GET",
        rf"{_CSC}/(?P<CodeSigningConfigArn>[^/]+)/functions",
        "ListFunctionsByCodeSigningConfig",
    ),
    ("PUT", _FN_CSC, "PutFunctionCodeSigningConfig"),
    ("DELETE", _FN_CSC, "DeleteFunctionCodeSigningConfig"),
)
# What a function without them answers (decision 0297: lambdaapi.provider_reads).
_PROVIDER_READS: Final[tuple[tuple[str, str, str], ...]] = (
    ("GET", rf"/2020-06-30/functions/{_FN}/code-signing-config", "GetFunctionCodeSigningConfig"),
    (
        "GET",
        rf"/2021-07-20/functions/{_FN}/runtime-management-config",
        "GetRuntimeManagementConfig",
    ),
    ("GET", rf"/2024-08-31/functions/{_FN}/recursion-config", "GetFunctionRecursionConfig"),
    ("PUT", rf"/2024-08-31/functions/{_FN}/recursion-config", "PutFunctionRecursionConfig"),
)
_COMPILED: Final = tuple(
    (m, re.compile(p), n) for m, p, n in _ROUTES + _CODE_SIGNING + _PROVIDER_READS
)
# The query string's members, by the name the API model gives them.
_QUERY: Final = {
    "Qualifier",
    "Marker",
    "MaxItems",
    "FunctionVersion",
    "MasterRegion",
    "RevisionId",
    "EventSourceArn",  # ListEventSourceMappings'
    "FunctionName",
    "CompatibleRuntime",  # ListLayers' and ListLayerVersions'
    "CompatibleArchitecture",
    "Arn",  # GetLayerVersionByArn's
}
_INVOKE_HEADERS: Final = {
    "x-amz-invocation-type": "InvocationType",
    "x-amz-log-type": "LogType",
    "x-amz-client-context": "ClientContext",
    # The caller's trace, whose lineage a recursive loop is detected by (decision 0328).
    "x-amzn-trace-id": "TraceHeader",
}


def route(method: str, path: str) -> tuple[str, dict[str, str]]:
    """The operation a method and (decoded) path name, and the path's members ("" when
    none). An operation of the API model not served yet is named ``NotYet:<prefix>``."""
    for wanted, pattern, name in _COMPILED:
        found = pattern.fullmatch(path)
        if found is not None and wanted == method:
            return name, found.groupdict()
    if re.match(r"/20\d\d-\d\d-\d\d/", path):
        return "NotYet", {}
    return "", {}


@dataclass(slots=True)
class Answer:
    """How a call that succeeded is answered: its status, and for Invoke its raw payload
    and headers instead of a JSON document, or for InvokeWithResponseStream its stream."""

    status: int = 200
    raw: bytes | None = None
    stream: AsyncIterator[bytes] | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)


class RestJsonWire:
    def action(self, request: JsonRequest[Any]) -> str:
        name = route(request.scope["method"], request.scope["path"])[0]
        if name == "ListLayers" and "LayerVersion" in parse_qs(
            request.scope.get("query_string", b"").decode("utf-8", "replace")
        ).get("find", ()):
            return "GetLayerVersionByArn"
        if name == "GetProvisionedConcurrencyConfig" and "ALL" in parse_qs(
            request.scope.get("query_string", b"").decode("utf-8", "replace")
        ).get("List", ()):
            return "ListProvisionedConcurrencyConfigs"
        return name

    def params(self, request: JsonRequest[Any]) -> dict[str, Any]:
        params: dict[str, Any] = {}
        action = self.action(request)
        if action in ("Invoke", "InvokeWithResponseStream"):
            params["Payload"] = request.body
            for header, name in _INVOKE_HEADERS.items():
                if header in request.headers:
                    params[name] = request.headers[header]
        elif action == "InvokeAsync":
            params["InvokeArgs"] = request.body
        elif request.body:
            try:
                body = json.loads(request.body)
            except (ValueError, UnicodeDecodeError) as exc:
                raise LambdaWireError(
                    "InvalidRequestContentException", "Could not parse request body into json"
                ) from exc
            if not isinstance(body, dict):
                raise LambdaWireError(
                    "InvalidRequestContentException", "The request body must be a JSON object"
                )
            params.update(body)
        query = parse_qs(request.scope.get("query_string", b"").decode("utf-8", "replace"))
        for name, values in query.items():
            if name == "tagKeys":
                params["TagKeys"] = values
            elif name in _QUERY:
                params[name] = values[-1]
        params.update(route(request.scope["method"], request.scope["path"])[1])
        return params

    def answer(self, request: JsonRequest[Any], result: dict[str, Any]) -> Response:
        answer = getattr(request.context, "answer", None) or Answer()
        if answer.stream is not None:
            response = Response(status=answer.status, stream=answer.stream)
        elif answer.raw is not None:
            response = Response(
                status=answer.status,
                headers=[("Content-Type", CONTENT_TYPE)],
                body=answer.raw,
            )
        elif answer.status == 204:
            response = Response(status=204, headers=[], body=b"")
        else:
            response = _response(answer.status, result)
        response.headers.extend(answer.headers)
        return response

    def error(self, request: JsonRequest[Any], wire: JsonWireError) -> Response:
        response = _response(wire.status, wire.payload())
        response.headers.extend(wire.headers())
        if not isinstance(wire, LambdaWireError):
            response.headers.append(("x-amzn-ErrorType", wire.error_type))
        return response


def _response(status: int, payload: dict[str, Any]) -> Response:
    body = json.dumps(payload, separators=(",", ":")).encode()
    return Response(status=status, headers=[("Content-Type", CONTENT_TYPE)], body=body)
