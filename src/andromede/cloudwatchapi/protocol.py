"""CloudWatch's three wire protocols, told apart and spoken (decision 0172).

- Smithy RPC v2 CBOR (what botocore 1.44 speaks): ``POST
  /service/GraniteServiceVersion20100801/operation/<Op>`` with ``smithy-protocol:
  rpc-v2-cbor``, a CBOR map in and out (timestamps as tag 1, epoch seconds);
- AWS JSON 1.0: ``X-Amz-Target: GraniteServiceVersion20100801.<Op>``, JSON in and out
  (timestamps as epoch seconds);
- Query: ``Action=<Op>&Version=2010-08-01`` in the query string or a form body, XML out
  (timestamps in ISO 8601, lists as ``member``, maps as ``entry``/``key``/``value``).

Each answers errors in its own shape (:func:`error_response`). The operations' results are
plain documents (dicts, lists, datetimes, numbers, text) that every protocol serialises.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

import cbor2

from andromede.cloudwatchapi.errors import CloudWatchError
from andromede.cloudwatchapi.shapes import INPUTS, coerce, from_query
from andromede.http.query import MalformedQuery, parse_query_parameters
from andromede.http.response import Response
from andromede.http.xml import XmlWriter

__all__ = [
    "Wire",
    "decode",
    "error_response",
    "is_cloudwatch_call",
    "result_response",
    "wire_of",
]

SERVICE_ID: Final = "GraniteServiceVersion20100801"
VERSION: Final = "2010-08-01"
NAMESPACE: Final = "http://monitoring.amazonaws.com/doc/2010-08-01/"
_CBOR_PATH: Final = f"/service/{SERVICE_ID}/operation/"
_CBOR_TYPE: Final = "application/cbor"
_JSON_TYPES: Final = ("application/x-amz-json-1.0", "application/x-amz-json-1.1")
_FORM: Final = "application/x-www-form-urlencoded"
_ERROR_PREFIX: Final = "com.amazonaws.cloudwatch#"
# The result members that are maps (serialised as entries in XML).
_MAPS: Final = frozenset({"ExtendedStatistics"})
# Operations whose output shape has no member: the Query answer still holds its (empty)
# result element, which botocore's parser looks for.
_EMPTY_RESULTS: Final = frozenset(
    {"TagResource", "UntagResource", "DeleteDashboards", "PutAnomalyDetector",
     "DeleteAnomalyDetector", "DeleteMetricStream", "StartMetricStreams", "StopMetricStreams",
     "PutInsightRule"}
)  # fmt: skip


class Wire(enum.Enum):
    CBOR = "cbor"
    JSON = "json"
    QUERY = "query"


def wire_of(path: str, headers: Mapping[str, str]) -> tuple[Wire, str]:
    """The protocol of a request, and the operation its path or target names ("" for the
    Query protocol, whose ``Action`` is a parameter)."""
    if path.startswith(_CBOR_PATH):
        return Wire.CBOR, path[len(_CBOR_PATH) :]
    target = headers.get("x-amz-target")
    if target is not None:
        return Wire.JSON, target.removeprefix(f"{SERVICE_ID}.") if target.startswith(
            f"{SERVICE_ID}."
        ) else ""
    return Wire.QUERY, ""


def is_cloudwatch_call(path: str, raw_headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether an unsigned request names a CloudWatch operation (the CBOR path with its
    protocol header, or the JSON target), which CloudWatch refuses in its own words."""
    for name, value in raw_headers:
        lowered = name.lower()
        if lowered == b"x-amz-target" and value.startswith(f"{SERVICE_ID}.".encode()):
            return True
        if lowered == b"smithy-protocol" and path.startswith(_CBOR_PATH):
            return True
    return False


def _content_type(headers: Mapping[str, str]) -> str:
    return headers.get("content-type", "").split(";", 1)[0].strip().lower()


def decode(
    wire: Wire,
    operation: str,
    method: str,
    headers: Mapping[str, str],
    raw_query: bytes,
    body: bytes,
) -> tuple[str, dict[str, Any]]:
    """The operation named and its input, typed by its shape. The operation is checked
    against :data:`~andromede.cloudwatchapi.shapes.INPUTS` by the caller."""
    if wire is Wire.QUERY:
        if method not in ("GET", "POST"):
            raise CloudWatchError("InvalidAction", f"Method {method[:16]} is not allowed")
        form = body if method == "POST" and _content_type(headers) == _FORM else b""
        if body and not form:
            raise CloudWatchError("InvalidParameterValue", f"Content-Type must be {_FORM}")
        try:
            params = parse_query_parameters(raw_query, form)
        except MalformedQuery as exc:
            raise CloudWatchError("InvalidParameterValue", "The query string is malformed") from exc
        action = params.get("Action", "")
        if not action:
            raise CloudWatchError("InvalidAction", "Missing Action")
        version = params.get("Version")
        if version is not None and version != VERSION:
            raise CloudWatchError(
                "InvalidAction",
                f"Could not find operation {action[:64]} for version {version[:16]}",
            )
        shape = INPUTS.get(action)
        return action, ({} if shape is None else from_query(params, shape))
    if method != "POST":
        raise CloudWatchError("SerializationException", "Only POST is allowed")
    shape = INPUTS.get(operation)
    if wire is Wire.CBOR:
        if headers.get("smithy-protocol") != "rpc-v2-cbor":
            raise CloudWatchError("SerializationException", "smithy-protocol must be rpc-v2-cbor")
        if body and _content_type(headers) != _CBOR_TYPE:
            raise CloudWatchError("SerializationException", f"Content-Type must be {_CBOR_TYPE}")
        try:
            document = cbor2.loads(body) if body else {}
        except (cbor2.CBORDecodeError, ValueError, TypeError, OverflowError, RecursionError) as exc:
            raise CloudWatchError("SerializationException", "The body is not valid CBOR") from exc
    else:
        if _content_type(headers) not in _JSON_TYPES:
            raise CloudWatchError(
                "SerializationException", f"Content-Type must be {_JSON_TYPES[0]}"
            )
        try:
            document = json.loads(body or b"{}")
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise CloudWatchError("SerializationException", "The body is not valid JSON") from exc
    if not isinstance(document, dict):
        raise CloudWatchError("SerializationException", "The body must be a map of members")
    return operation, ({} if shape is None else coerce(document, shape))


def _epoch(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.timestamp()
    raise TypeError(type(value).__name__)


def result_response(
    wire: Wire, operation: str, result: dict[str, Any], request_id: str
) -> Response:
    if wire is Wire.CBOR:
        return Response(
            status=200,
            headers=[("Content-Type", _CBOR_TYPE), ("smithy-protocol", "rpc-v2-cbor")],
            body=cbor2.dumps(result, datetime_as_timestamp=True, timezone=UTC),
        )
    if wire is Wire.JSON:
        return Response(
            status=200,
            headers=[("Content-Type", _JSON_TYPES[0])],
            body=json.dumps(result, default=_epoch, separators=(",", ":")).encode(),
        )
    xml = XmlWriter(f"{operation}Response", namespace=NAMESPACE)
    if result or operation in _EMPTY_RESULTS:
        xml.open(f"{operation}Result")
        for name, value in result.items():
            _xml(xml, name, value)
        xml.close(f"{operation}Result")
    xml.open("ResponseMetadata")
    xml.element("RequestId", request_id)
    xml.close("ResponseMetadata")
    return Response(status=200, headers=[("Content-Type", "text/xml")], body=xml.document())


def _xml(xml: XmlWriter, name: str, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, dict) and name in _MAPS:
        xml.open(name)
        for key, item in value.items():
            xml.open("entry")
            xml.element("key", key)
            _xml(xml, "value", item)
            xml.close("entry")
        xml.close(name)
    elif isinstance(value, dict):
        xml.open(name)
        for key, item in value.items():
            _xml(xml, key, item)
        xml.close(name)
    elif isinstance(value, list):
        xml.open(name)
        for item in value:
            _xml(xml, "member", item)
        xml.close(name)
    elif isinstance(value, datetime):
        xml.element(name, value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    elif isinstance(value, bool):
        xml.element(name, "true" if value else "false")
    else:
        xml.element(name, str(value))


def error_response(wire: Wire, error: CloudWatchError, request_id: str) -> Response:
    if wire is Wire.QUERY:
        xml = XmlWriter("ErrorResponse", namespace=NAMESPACE)
        xml.open("Error")
        xml.element("Type", "Sender" if error.sender_fault else "Receiver")
        xml.element("Code", error.code)
        xml.element("Message", error.message)
        xml.close("Error")
        xml.element("RequestId", request_id)
        return Response(
            status=error.status, headers=[("Content-Type", "text/xml")], body=xml.document()
        )
    payload = {"__type": _ERROR_PREFIX + error.shape, "message": error.message}
    headers = [("x-amzn-query-error", error.query_error)]
    if wire is Wire.CBOR:
        headers += [("Content-Type", _CBOR_TYPE), ("smithy-protocol", "rpc-v2-cbor")]
        body = cbor2.dumps(payload)
    else:
        headers.append(("Content-Type", _JSON_TYPES[0]))
        body = json.dumps(payload, separators=(",", ":")).encode()
    return Response(status=error.status, headers=headers, body=body)
