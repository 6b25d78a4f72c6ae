"""What a function URL makes of an HTTP request and of the function's answer (decision 0312),
pure: the event (AWS's payload format 2.0, as API Gateway's HTTP APIs send it), the HTTP
response read from the function's result as AWS reads it, and CORS — the preflight answered
from the URL's ``Cors`` without invoking, and the headers added to every answer.

The event: ``version`` "2.0", ``routeKey`` and ``requestContext.stage`` ``$default``,
``rawPath`` and ``rawQueryString`` as sent, ``cookies`` (taken out of the ``Cookie``
header), ``headers`` lower-cased (repeated ones joined by commas), ``queryStringParameters``
(repeated ones joined by commas), ``requestContext`` (``accountId`` — "anonymous" when no
one signed —, ``apiId`` and ``domainPrefix`` the url-id, ``domainName``, ``http``,
``requestId``, ``time``, ``timeEpoch``, ``authorizer.iam`` for a signed request), ``body``
(base64 with ``isBase64Encoded`` unless it is text).

The answer: a JSON object with ``statusCode`` is read as ``statusCode``, ``headers``,
``cookies`` (``Set-Cookie`` each), ``body`` and ``isBase64Encoded``; any other JSON value
is a 200 ``application/json`` whose body is the value (a string as its text); a malformed
one is a 502, as a function's error is."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import parse_qsl, unquote

from andromede.functions.url_configs import UrlCors

__all__ = [
    "UrlRequest",
    "UrlResponse",
    "cors_headers",
    "is_preflight",
    "preflight",
    "request_event",
    "response_of",
    "url_error",
]

_TEXT_TYPES: Final = (
    "text/",
    "application/json",
    "application/javascript",
    "application/xml",
    "application/x-www-form-urlencoded",
    "application/ecmascript",
    "application/yaml",
)


@dataclass(frozen=True, slots=True)
class UrlRequest:
    method: str
    raw_path: str  # percent-encoded, as sent
    raw_query: str
    headers: tuple[tuple[str, str], ...]  # as sent, names in any case
    body: bytes
    source_ip: str
    protocol: str  # "HTTP/1.1"
    url_id: str
    host: str  # the domain name the request named, without its port


@dataclass(slots=True)
class UrlResponse:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


def url_error(status: int, message: str) -> UrlResponse:
    """A refusal in the shape AWS's function URLs give it: ``{"Message": …}``."""
    body = json.dumps({"Message": message}).encode()
    return UrlResponse(status, [("Content-Type", "application/json")], body)


def _is_text(content_type: str) -> bool:
    kind = content_type.split(";", 1)[0].strip().lower()
    return kind.startswith(_TEXT_TYPES) or kind.endswith(("+json", "+xml"))


def _joined(pairs: list[tuple[str, str]]) -> dict[str, str]:
    joined: dict[str, str] = {}
    for name, value in pairs:
        joined[name] = f"{joined[name]},{value}" if name in joined else value
    return joined


def request_event(
    request: UrlRequest,
    *,
    account_id: str,
    request_id: str,
    now_ms: int,
    iam: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The payload format 2.0 event of ``request``."""
    cookies: list[str] = []
    pairs: list[tuple[str, str]] = []
    for name, value in request.headers:
        lowered = name.lower()
        if lowered == "cookie":
            cookies += [c.strip() for c in value.split(";") if c.strip()]
        else:
            pairs.append((lowered, value))
    headers = _joined(pairs)
    path = unquote(request.raw_path) or "/"
    when = datetime.fromtimestamp(now_ms / 1000, UTC)
    context: dict[str, Any] = {
        "accountId": account_id,
        "apiId": request.url_id,
        "domainName": request.host,
        "domainPrefix": request.url_id,
        "http": {
            "method": request.method,
            "path": path,
            "protocol": request.protocol,
            "sourceIp": request.source_ip,
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": request_id,
        "routeKey": "$default",
        "stage": "$default",
        "time": when.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "timeEpoch": now_ms,
    }
    if iam is not None:
        context["authorizer"] = {"iam": iam}
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": request.raw_path or "/",
        "rawQueryString": request.raw_query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    if request.raw_query:
        event["queryStringParameters"] = _joined(
            parse_qsl(request.raw_query, keep_blank_values=True)
        )
    event["requestContext"] = context
    if request.body:
        text = _is_text(headers.get("content-type", ""))
        if text:
            try:
                event["body"] = request.body.decode()
            except UnicodeDecodeError:
                text = False
        if not text:
            event["body"] = base64.b64encode(request.body).decode()
        event["isBase64Encoded"] = not text
    else:
        event["isBase64Encoded"] = False
    return event


def response_of(payload: bytes) -> UrlResponse:
    """The HTTP response a function's successful result (JSON text) stands for."""
    try:
        result = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return url_error(502, "Internal Server Error")
    if not isinstance(result, dict) or "statusCode" not in result:
        plain = result.encode() if isinstance(result, str) else payload
        return UrlResponse(200, [("Content-Type", "application/json")], plain)
    status = result.get("statusCode")
    headers = result.get("headers") or {}
    cookies = result.get("cookies") or []
    body = result.get("body")
    if (
        isinstance(status, bool)
        or not isinstance(status, int)
        or not 100 <= status <= 599
        or not isinstance(headers, dict)
        or not isinstance(cookies, list)
        or not (body is None or isinstance(body, str))
    ):
        return url_error(502, "Internal Server Error")
    data = (body or "").encode()
    if result.get("isBase64Encoded") is True:
        try:
            data = base64.b64decode(body or "", validate=True)
        except (binascii.Error, ValueError):
            return url_error(502, "Internal Server Error")
    answer = UrlResponse(status, [], data)
    for name, value in headers.items():
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            answer.headers.append((str(name), str(value)))
    if not any(n.lower() == "content-type" for n, _ in answer.headers):
        answer.headers.append(("Content-Type", "application/json"))
    answer.headers += [("Set-Cookie", str(c)) for c in cookies if isinstance(c, str)]
    return answer


def _allowed_origin(cors: UrlCors, origin: str | None) -> str | None:
    if origin is None or not cors.allow_origins:
        return None
    if origin in cors.allow_origins:
        return origin
    if "*" in cors.allow_origins:
        # A credentialed answer may not say "*": the origin itself, as browsers require.
        return origin if cors.allow_credentials else "*"
    return None


def cors_headers(cors: UrlCors | None, origin: str | None) -> list[tuple[str, str]]:
    """The CORS headers an actual (not preflight) request's answer carries."""
    if cors is None:
        return []
    allowed = _allowed_origin(cors, origin)
    if allowed is None:
        return []
    headers = [("Access-Control-Allow-Origin", allowed)]
    if allowed != "*":
        headers.append(("Vary", "Origin"))
    if cors.allow_credentials:
        headers.append(("Access-Control-Allow-Credentials", "true"))
    if cors.expose_headers:
        headers.append(("Access-Control-Expose-Headers", ",".join(cors.expose_headers)))
    return headers


def is_preflight(cors: UrlCors | None, method: str, headers: dict[str, str]) -> bool:
    """An ``OPTIONS`` preflight the URL answers itself: one with ``Cors`` configured."""
    return (
        cors is not None
        and method == "OPTIONS"
        and "origin" in headers
        and "access-control-request-method" in headers
    )


def preflight(cors: UrlCors, headers: dict[str, str]) -> UrlResponse:
    """The answer to a CORS preflight (``headers`` lower-cased), from the URL's ``Cors``."""
    allowed = _allowed_origin(cors, headers.get("origin"))
    wanted = headers.get("access-control-request-method", "").upper()
    methods = cors.allow_methods
    if allowed is None or not ("*" in methods or wanted in methods):
        return UrlResponse(200)
    answer = UrlResponse(200, [("Access-Control-Allow-Origin", allowed)])
    if allowed != "*":
        answer.headers.append(("Vary", "Origin"))
    answer.headers.append(("Access-Control-Allow-Methods", ",".join(methods)))
    if cors.allow_headers:
        answer.headers.append(("Access-Control-Allow-Headers", ",".join(cors.allow_headers)))
    if cors.allow_credentials:
        answer.headers.append(("Access-Control-Allow-Credentials", "true"))
    if cors.expose_headers:
        answer.headers.append(("Access-Control-Expose-Headers", ",".join(cors.expose_headers)))
    if cors.max_age is not None:
        answer.headers.append(("Access-Control-Max-Age", str(cors.max_age)))
    return answer
